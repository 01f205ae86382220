#!/usr/bin/env bash
# Libraries chosen by configuration are opened at run time, not linked (docs/benchmarks.md, 14 and 18):
# libpq (lib/postgres/src/libpq.hpp) and librdkafka (lib/events/src/librdkafka.hpp). Linked, every
# process loaded them — and what they load — whatever its configuration named. For each built process:
# ldd must not list them, and the binary must still name the soname it opens (deploy/containers/
# collect.sh copies a library into an image by that name).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d -t mercato-runtime-libraries-XXXXXX)"
trap 'rm -rf "$work"' EXIT

fail() {
  echo "FAILED: $*" >&2
  exit 1
}

binaries=("$root"/build/services/*/mercato-* "$root"/build/apps/monolith/mercato-monolith)
[[ -x "${binaries[0]}" ]] || fail "the services are not built (no $root/build/services/*/mercato-*)"
checked=0
for binary in "${binaries[@]}"; do
  [[ -x "$binary" && ! "$binary" == *_test ]] || continue
  linked="$(ldd "$binary")"
  for so in libpq.so.5 librdkafka.so.1; do
    if grep -qF "$so" <<<"$linked"; then
      fail "$(basename "$binary") links $so, which it should open only when configured to use it"
    fi
  done
  # Every service can run on PostgreSQL and on Kafka. Checked on a stripped copy, as the images hold it:
  # debug information names the sonames too, and would hide a binary whose code no longer has them.
  if [[ "$binary" != */gateway/* ]]; then
    strip --strip-unneeded -o "$work/stripped" "$binary"
    for so in libpq.so.5 librdkafka.so.1; do
      grep -qF "$so" "$work/stripped" ||
        fail "$(basename "$binary"), stripped, does not name $so: deploy/containers/collect.sh would leave it out"
    done
  fi
  checked=$((checked + 1))
done
((checked >= 8)) || fail "only $checked binaries found; expected the gateway, six services and the monolith"
echo "ok: $checked binaries open libpq and librdkafka at run time, none links them"
