#!/usr/bin/env bash
# Builds the libFuzzer targets and runs one or all of them for a chosen time.
#
#   fuzz/run.sh <LoginNames|RESTAuthDecoder|JWTParser|all> <seconds>   build, then fuzz each target
#   fuzz/run.sh build                                                  build only
#   FUZZ_NO_BUILD=1 fuzz/run.sh <target|all> <seconds>                 fuzz the binaries already built
#   fuzz/run.sh replay <target> <file>...                              run inputs once (a finding, the corpus)
#
# The committed seeds (fuzz/corpus/<target>/) are copied to fuzz/.work/<target>/corpus, which the
# fuzzer grows; the log is fuzz/.work/<target>.log; crashing inputs land in fuzz/findings/<target>/.
# Each run ends with one summary line: executions, executions per second, coverage, findings.
set -euo pipefail

FUZZ="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
TARGETS=(LoginNames RESTAuthDecoder JWTParser)
BIN="$FUZZ/.build/release"

max_len() {
  case "$1" in
    LoginNames) echo 2048 ;;     # the mapper refuses more than 1016 bytes unread
    RESTAuthDecoder) echo 16384 ;;
    JWTParser) echo 12288 ;;     # tokens over 8 KiB are refused unread
  esac
}

# One -sanitize flag for Swift: swiftc keeps only the last -sanitize= it is given, and SwiftPM's
# --sanitize=fuzzer --sanitize=address passes the two in a random order (a Set), so half the builds
# had no coverage instrumentation in Swift code at all (and each order change rebuilt everything).
SWIFT_SANITIZE=(-Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=fuzzer-no-link,address)

build() {
  echo "[fuzz] swift build -c release ${SWIFT_SANITIZE[*]}" >&2
  swift build --package-path "$FUZZ" -c release "${SWIFT_SANITIZE[@]}"
}

run_one() {
  local target="$1" seconds="$2"
  local work="$FUZZ/.work/$target" findings="$FUZZ/findings/$target"
  mkdir -p "$work/corpus" "$findings"
  cp -n "$FUZZ/corpus/$target/"* "$work/corpus/" 2>/dev/null || true
  local log="$FUZZ/.work/$target.log"
  echo "[fuzz] $target for ${seconds}s, log $log" >&2
  local status=0
  # Output to a file, and a hard kill well after -max_total_time: a hung target cannot hang the shell.
  timeout -s KILL "$((seconds + 300))" "$BIN/Fuzz$target" "$work/corpus" \
    -max_total_time="$seconds" -max_len="$(max_len "$target")" -rss_limit_mb=4096 -timeout=30 \
    -print_final_stats=1 -artifact_prefix="$findings/" >"$log" 2>&1 || status=$?
  local runs rate cov ft units found counters
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo "?")
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo "?")
  units=$(find "$work/corpus" -type f | wc -l)
  # Instrumented edges in the binary: a few ten thousand means only C code was instrumented.
  counters=$(grep -o '([0-9]* inline' "$log" | head -1 | grep -o '[0-9]*' || echo "?")
  found=$(find "$findings" -type f | wc -l)
  echo "[fuzz] $target: exit $status, ${seconds}s, $runs executions ($rate/s), cov $cov, ft $ft, corpus $units, findings $found, $counters instrumented edges"
}

case "${1:-}" in
  build) build ;;
  replay)
    shift
    target="$1"
    shift
    "$BIN/Fuzz$target" "$@"
    ;;
  all | LoginNames | RESTAuthDecoder | JWTParser)
    [[ $# -eq 2 ]] || { echo "usage: $0 <target|all> <seconds>" >&2; exit 2; }
    [[ -n "${FUZZ_NO_BUILD:-}" ]] || build
    if [[ "$1" == all ]]; then selected=("${TARGETS[@]}"); else selected=("$1"); fi
    for target in "${selected[@]}"; do run_one "$target" "$2"; done
    ;;
  *)
    sed -n '2,13p' "$0" >&2
    exit 2
    ;;
esac
