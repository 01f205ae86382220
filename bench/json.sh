#!/usr/bin/env bash
# bench/json.sh — what reading JSON costs: lib/json's checked readers and lib/events' CloudEvent reader
# beside Boost.JSON's bare parser on the same documents, in one run (build/tools/json-bench, Google
# Benchmark). The checked readers refuse what the bare parser lets through (duplicate keys in request
# bodies, numbers beyond a double), so "checked / bare" is what that safety costs; events::from_json
# reads a whole order.created event (envelope and data). Prints a markdown table of the medians.
#
# Environment: BENCH_JSON_REPETITIONS [5]  BENCH_BUILD [1]
set -euo pipefail

MERCATO_ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$MERCATO_ROOT"
# shellcheck source=bench/preamble.sh disable=SC1091
source bench/preamble.sh

REPETITIONS="${BENCH_JSON_REPETITIONS:-5}"
[[ "$REPETITIONS" =~ ^[1-9][0-9]?$ ]] || die "BENCH_JSON_REPETITIONS must be 1..99 (got '$REPETITIONS')"
PROBE="${MERCATO_BUILD_DIR}/tools/json-bench/mercato-json-bench"

if [[ "${BENCH_BUILD:-1}" == 1 ]]; then
  build_project >&2
fi
[[ -x "$PROBE" ]] || die "build first: $PROBE"
command -v jq >/dev/null || die "jq not found (./mercato deps installs it)"

out="$("$PROBE" --benchmark_repetitions="$REPETITIONS" --benchmark_report_aggregates_only=true \
  --benchmark_format=json)" || die "mercato-json-bench failed"

# The median of NAME's repetitions (with one repetition Google Benchmark reports the run itself).
median() {
  jq -r --arg n "$1" '.benchmarks[] | select(.name == ($n + "_median") or (.name == $n and .run_type == "iteration")) | .real_time' <<<"$out"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo "### Reading JSON ($(date -u '+%Y-%m-%d %H:%M UTC'), $(bench_rev))"
echo
echo "Medians of $REPETITIONS repetitions, ns per document (lower is better):"
echo
echo "| document | Boost.JSON parse (reference) | checked reader | checked / reference | events::from_json |"
echo "|---|---:|---:|---:|---:|"
eb="$(median event_boost_parse)"
ep="$(median event_parse_value)"
ef="$(median event_from_json)"
bb="$(median body_boost_parse)"
bp="$(median body_parse_object)"
printf '| order.created event (%s) | %.0f | %.0f (json::parse_value) | %s | %.0f |\n' "CloudEvent JSON" "$eb" "$ep" "$(ratio "$ep" "$eb")" "$ef"
printf '| placement body | %.0f | %.0f (json::parse_object) | %s | – |\n' "$bb" "$bp" "$(ratio "$bp" "$bb")"
echo
echo "Command: \`BENCH_JSON_REPETITIONS=$REPETITIONS ./mercato bench json\`"
echo
bench_machine
