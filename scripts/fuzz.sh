# shellcheck shell=bash
# `./mercato fuzz [TARGET|all] [SECONDS]`: builds the libFuzzer harnesses of fuzz/ with clang into
# build-fuzz/ (-fsanitize=fuzzer,address,undefined; the libraries under test are instrumented too) and
# runs each chosen target for SECONDS of CPU time (default 60), one after the other.
#
# Why CPU time rather than -max_total_time: the fuzzers run under `nice -n 19` so they never slow the
# builds and timing-sensitive tests of others on the machine; on a busy machine a niced process gets
# little of the wall clock, and "ran for 10 minutes" would say nothing about the work done.
#
# New corpus entries go to build-fuzz/corpus/<target>/ (scratch; fuzz/corpus/<target>/ is only read),
# crashes to build-fuzz/artifacts/<target>/, the log to build-fuzz/logs/<target>.log. docs/security.md
# ("Fuzzing") says how to minimise a finding and commit the entries worth keeping.
#
# Environment:
#   MERCATO_FUZZ_NICE   niceness of the build and the fuzzers (default 19)
#   MERCATO_FUZZ_ARGS   extra libFuzzer arguments, e.g. "-max_len=8192"
#   MERCATO_FUZZ_CXX    the clang++ to use (default clang++)

MERCATO_FUZZ_DIR="${MERCATO_ROOT}/build-fuzz"

# fuzz_targets: the targets with a harness and a committed corpus, one per line.
fuzz_targets() {
  local file name
  for file in "${MERCATO_ROOT}"/fuzz/*_fuzz.cpp; do
    name="$(basename "$file" _fuzz.cpp)"
    [[ -d "${MERCATO_ROOT}/fuzz/corpus/${name}" ]] && echo "$name"
  done
}

# fuzz_build: configures build-fuzz/ once (clang, sanitizers, MERCATO_FUZZ=ON) and builds the harnesses.
fuzz_build() {
  deps_ensure core fuzz
  local cxx="${MERCATO_FUZZ_CXX:-clang++}"
  command -v "$cxx" >/dev/null 2>&1 || die "$cxx not found (./mercato deps fuzz)"
  # -fno-sanitize=function: clang 14 cannot emit that check's prologue data for the split functions
  # of C++20 coroutines (Asio's awaitables): "Cannot represent a difference across sections".
  if [[ ! -f "${MERCATO_FUZZ_DIR}/build.ninja" ]]; then
    log_info "configuring build-fuzz/ ($cxx, -fsanitize=fuzzer-no-link,address,undefined)"
    nice -n "${MERCATO_FUZZ_NICE:-19}" cmake -S "$MERCATO_ROOT" -B "$MERCATO_FUZZ_DIR" -G Ninja \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$cxx" -DMERCATO_FUZZ=ON \
      -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-sanitize=function -fno-omit-frame-pointer"
  fi
  log_info "building the fuzz targets (nice -n ${MERCATO_FUZZ_NICE:-19})"
  nice -n "${MERCATO_FUZZ_NICE:-19}" cmake --build "$MERCATO_FUZZ_DIR" --target fuzz_targets
}

# _fuzz_cpu_seconds PID: user + system CPU seconds the process has used so far.
_fuzz_cpu_seconds() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || {
    echo 0
    return
  }
  # Fields after the command name (which may hold spaces) start at field 3; utime and stime are 14, 15.
  local -a fields
  read -r -a fields <<<"${stat##*) }"
  echo $(((fields[11] + fields[12]) / $(getconf CLK_TCK)))
}

# fuzz_run TARGET SECONDS: one fuzzer, stopped with SIGINT (so it prints its final statistics) once it
# has used SECONDS of CPU time.
fuzz_run() {
  local target="$1" seconds="$2"
  local exe="${MERCATO_FUZZ_DIR}/fuzz/${target}_fuzz"
  local scratch="${MERCATO_FUZZ_DIR}/corpus/${target}" artifacts="${MERCATO_FUZZ_DIR}/artifacts/${target}"
  local log="${MERCATO_FUZZ_DIR}/logs/${target}.log"
  [[ -x "$exe" ]] || die "no fuzz target $exe (targets: $(fuzz_targets | tr '\n' ' '))"
  mkdir -p "$scratch" "$artifacts" "$(dirname "$log")"
  local -a extra=()
  if [[ -n "${MERCATO_FUZZ_ARGS:-}" ]]; then
    read -r -a extra <<<"$MERCATO_FUZZ_ARGS"
  fi
  log_info "fuzzing $target for ${seconds}s of CPU (log: ${log#"$MERCATO_ROOT"/})"
  local started
  started="$(now_ms)"
  # The scratch directory comes first: libFuzzer writes new entries into the first directory only.
  nice -n "${MERCATO_FUZZ_NICE:-19}" "$exe" -artifact_prefix="${artifacts}/" -print_final_stats=1 \
    -rss_limit_mb=2048 -timeout=20 "${extra[@]}" "$scratch" "${MERCATO_ROOT}/fuzz/corpus/${target}" \
    >"$log" 2>&1 &
  local pid=$! used=0
  trap 'kill -INT "$pid" 2>/dev/null || true' INT TERM
  while kill -0 "$pid" 2>/dev/null; do
    used="$(_fuzz_cpu_seconds "$pid")"
    if ((used >= seconds)); then
      kill -INT "$pid" 2>/dev/null || true
      break
    fi
    sleep 2
  done
  local status=0
  wait "$pid" || status=$?
  trap - INT TERM
  local execs
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
  log_note "$target: ${used}s CPU in $((($(now_ms) - started) / 1000))s wall, ${execs:-?} executions, exit $status"
  # Stopped by our SIGINT, libFuzzer exits with its interrupt code, 72; a finding exits with 77 (or
  # the sanitizer's 1) and leaves its input in the artifacts directory.
  if ((status != 72 && status != 0)); then
    log_error "$target found a problem (exit $status): see ${log#"$MERCATO_ROOT"/} and ${artifacts#"$MERCATO_ROOT"/}/"
    grep -m 1 -A 12 'ERROR\|deadly signal\|runtime error' "$log" >&2 || tail -n 20 "$log" >&2
    return 1
  fi
  return 0
}

cmd_fuzz() {
  case "${1:-}" in
    -h | --help)
      echo "usage: ./mercato fuzz [TARGET|all] [SECONDS]   targets: $(fuzz_targets | tr '\n' ' ')"
      return 0
      ;;
  esac
  local target="${1:-all}" seconds="${2:-60}"
  [[ "$seconds" =~ ^[0-9]+$ && "$seconds" -gt 0 ]] || die "SECONDS must be a positive whole number, got '$seconds'"
  local -a targets
  if [[ "$target" == all ]]; then
    mapfile -t targets < <(fuzz_targets)
  else
    # Not `fuzz_targets | grep -q`: grep stops reading early and pipefail would count that as a miss.
    [[ " $(fuzz_targets | tr '\n' ' ') " == *" $target "* ]] || die "no fuzz target '$target' (targets: $(fuzz_targets | tr '\n' ' '))"
    targets=("$target")
  fi
  fuzz_build
  local failed=0 t
  for t in "${targets[@]}"; do
    fuzz_run "$t" "$seconds" || failed=1
  done
  ((failed == 0)) || die "a fuzz target found a problem"
  log_info "fuzzing done: no crash, leak or undefined behaviour reported"
}
