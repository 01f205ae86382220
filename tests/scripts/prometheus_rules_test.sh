#!/usr/bin/env bash
# deploy/prometheus/rules.yml as Prometheus itself reads it: `promtool check rules` (syntax, PromQL, the
# templates of every annotation) and `promtool test rules` (rules_test.yml: which alerts fire when, and
# which must stay silent). Either failing fails the test; promtool comes with the Debian package
# prometheus (scripts/packages.txt, core), so a missing one is a failure too, not a skip.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
rules="$root/deploy/prometheus"
command -v promtool >/dev/null 2>&1 || { echo "FAILED: promtool not found (./mercato deps installs prometheus)" >&2; exit 1; }
promtool check rules "$rules/rules.yml" || { echo "FAILED: promtool check rules" >&2; exit 1; }
# From the rules' folder: rules_test.yml names rules.yml relative to itself.
(cd "$rules" && promtool test rules rules_test.yml) || { echo "FAILED: promtool test rules" >&2; exit 1; }
echo "ok"
