#!/usr/bin/env bash
# AuthPlugin's pbx.Plugin server: FireHose calls per second and p99 latency at N concurrent calls,
# beside an empty unary RPC of the same server (same transport, interceptor and connection) in the
# same run. FireHose is on Tinode's hot path: it is called before every client message it matches.
# Target: p99 under 2 ms and at least 0.70 of the empty RPC's throughput.
#
# The server (`PluginBench serve`: PluginGRPCServer + PluginService with every policy on, metrics
# to Prometheus, plus the empty baseline RPC) and the callers (`PluginBench load`: N concurrent
# unary calls on one HTTP/2 connection, as Tinode makes them) run as two processes on this machine.
#
# Beside the saturated runs (each caller calls again as soon as its answer is in: the throughput,
# and a latency that is mostly queueing), paced runs: each caller waits a random 0 to 2*PACE_MS
# (default 5 ms) between its calls, for the latency below saturation.
#
#   [PACE_MS=5] bench/authplugin-plugin.sh [rounds] [seconds] [concurrency]
set -euo pipefail
ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
ROUNDS="${1:-3}"
SECONDS_PER_RUN="${2:-5}"
CONCURRENCY="${3:-32}"

swift build -c release --product PluginBench >&2
BENCH="$(swift build -c release --show-bin-path)/PluginBench"
DIR="$(mktemp -d)"
"$BENCH" serve >"$DIR/serve.out" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true; rm -rf "$DIR"' EXIT
for _ in $(seq 1 100); do grep -q '^port=' "$DIR/serve.out" 2>/dev/null && break; sleep 0.1; done
PORT="$(sed -n 's/^port=//p' "$DIR/serve.out")"
[[ -n "$PORT" ]] || { echo "PluginBench serve did not start: $(cat "$DIR/serve.out")" >&2; exit 1; }
echo "# machine: $(nproc) cores, $(uname -m); server and callers in two processes"
"$BENCH" load "$PORT" "$ROUNDS" "$SECONDS_PER_RUN" "$CONCURRENCY"
