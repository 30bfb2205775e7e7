#!/usr/bin/env bash
# AuthPlugin's pbx.Plugin server: FireHose calls per second and p99 latency at N concurrent calls,
# beside an empty unary RPC of the same server (same transport, interceptor and connection) in the
# same run. FireHose is on Tinode's hot path: it is called before every client message it matches.
# Target: p99 under 2 ms and at least 0.70 of the empty RPC's throughput. Client and server share
# one process (and the machine's cores), on one HTTP/2 connection as Tinode uses.
#
#   bench/authplugin-plugin.sh [rounds] [seconds] [concurrency]
set -euo pipefail
ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
ROUNDS="${1:-3}"
SECONDS_PER_RUN="${2:-5}"
CONCURRENCY="${3:-32}"

swift build -c release --product PluginBench >&2
BENCH="$(swift build -c release --show-bin-path)/PluginBench"
echo "# machine: $(nproc) cores, $(uname -m)"
"$BENCH" "$ROUNDS" "$SECONDS_PER_RUN" "$CONCURRENCY"
