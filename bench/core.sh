#!/usr/bin/env bash
# Core benchmarks, each beside a baseline measured in the same run on the same machine:
#   * JWT verification per second (HS256, ES256, EdDSA) against swift-crypto checking only the
#     signature of the same token (the cryptographic floor);
#   * Valkey SET/GET round trips per second through our hiredis client against `redis-benchmark`
#     on the same redis-server, same number of connections and requests.
# Machines here are shared and noisy: read the ratios and the medians, not single figures.
#
#   bench/core.sh [rounds]
set -euo pipefail
ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
source bench/require-rates.sh
ROUNDS="${1:-5}"
CONCURRENCY=50
REQUESTS=100000

command -v redis-benchmark >/dev/null || { echo "needs redis-server / redis-benchmark (Debian: redis-server)" >&2; exit 1; }
swift build -c release --product SidecarBench >&2
BENCH="$(swift build -c release --show-bin-path)/SidecarBench"

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
PASSWORD="bench-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
DIR="$(mktemp -d)"
redis-server --port "$PORT" --bind 127.0.0.1 --requirepass "$PASSWORD" --save '' --appendonly no \
  --dir "$DIR" --daemonize yes --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log"
trap 'kill "$(cat "$DIR/redis.pid")" 2>/dev/null || true; rm -rf "$DIR"' EXIT
for _ in $(seq 1 50); do redis-cli -p "$PORT" -a "$PASSWORD" --no-auth-warning ping >/dev/null 2>&1 && break; sleep 0.1; done

echo "# machine: $(nproc) cores, $(uname -m); rounds: $ROUNDS (medians)"
echo "# JWT verify: ours = TokenService.verifyAccessToken (header checks, jwt-kit, claims); baseline = signature check only"
"$BENCH" jwt 1 "$ROUNDS"

echo "# Valkey: $CONCURRENCY concurrent callers, $REQUESTS requests, 3-byte values; baseline = redis-benchmark -c $CONCURRENCY"
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
for op in set get; do
  baseline=$(for _ in $(seq 1 "$ROUNDS"); do
    redis-benchmark -h 127.0.0.1 -p "$PORT" -a "$PASSWORD" -c "$CONCURRENCY" -n "$REQUESTS" -t "$op" -q 2>/dev/null \
      | tr '\r' '\n' | awk '/requests per second/ {for (i=1;i<=NF;i++) if ($i ~ /^[0-9.]+$/) {print $i; exit}}'
  done | median)
  for pool in 8 "$CONCURRENCY"; do
    ours=$("$BENCH" valkey "redis://:$PASSWORD@127.0.0.1:$PORT/0" "$op" "$CONCURRENCY" "$REQUESTS" "$pool" "$ROUNDS" | sed 's/.*ours=//')
    require_rates "valkey_${op}_per_s pool=$pool (ours, redis-benchmark)" "$ours" "$baseline"
    awk -v op="$op" -v pool="$pool" -v o="$ours" -v b="$baseline" \
      'BEGIN {printf "valkey_%s_per_s pool=%s ours=%.0f baseline=%.0f ratio=%.2f\n", op, pool, o, b, o/b}'
  done
done
