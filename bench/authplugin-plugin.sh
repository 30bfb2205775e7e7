#!/usr/bin/env bash
# AuthPlugin's pbx.Plugin server: FireHose calls per second and p99 latency at N concurrent calls,
# beside an empty unary RPC of the same server (same HTTP/2 server, routing, allow-list and
# connection) in the same run. FireHose is on Tinode's hot path: it is called before every client
# message it matches. Target: p99 under 2 ms and at least 0.70 of the empty RPC's throughput.
#
# The server (`PluginBench serve`: PluginGRPCServer + PluginService with every policy on, metrics
# to Prometheus, plus the empty baseline RPC) and the callers run as two processes on this machine.
#
# The callers are measured twice: grpc-swift (PluginBench load, N concurrent unary calls on one
# HTTP/2 connection as Tinode makes them, checking every answer), then h2load if installed (Debian:
# nghttp2-client), whose calls cost the shared cores far less, as Tinode's Go client does.
# A second baseline, the floor: `PluginBench serve-floor`, an HTTP/2 server on NIO with no routing,
# checks or metrics, answering every call at once on the event loop: the most a server on NIO can
# do per call on this machine, and, measured with grpc-swift's callers too, how much of their
# latency is the callers' own.
#
# Beside the saturated runs (each caller calls again as soon as its answer is in: the throughput,
# and a latency that is mostly queueing), paced runs: each caller waits a random 0 to 2*PACE_MS
# (default 5 ms) between its calls, for the latency below saturation.
#
# A third caller pings like Tinode's (grpc-go's flow-control estimator: a PING whenever a DATA frame
# arrives and none of its PINGs is unanswered, about one per answer), which neither grpc-swift nor
# h2load does: `PluginBench pinging`, raw HTTP/2 on NIO, N calls in flight on one connection,
# saturated and paced. It reports the PINGs it sent and the connections the server ended (GOAWAY or
# close), which must be 0: a server that limits control frames by time cuts Tinode off under load.
#
#   [PACE_MS=5] bench/authplugin-plugin.sh [rounds] [seconds] [concurrency]
set -euo pipefail
ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
source bench/require-rates.sh
ROUNDS="${1:-3}"
SECONDS_PER_RUN="${2:-5}"
CONCURRENCY="${3:-32}"

swift build -c release --product PluginBench >&2
BENCH="$(swift build -c release --show-bin-path)/PluginBench"
DIR="$(mktemp -d)"
"$BENCH" serve >"$DIR/serve.out" 2>&1 &
SERVER=$!
FLOOR=""
trap 'kill "$SERVER" 2>/dev/null || true; [[ -n "$FLOOR" ]] && kill "$FLOOR" 2>/dev/null; rm -rf "$DIR"' EXIT
for _ in $(seq 1 100); do grep -q '^port=' "$DIR/serve.out" 2>/dev/null && break; sleep 0.1; done
PORT="$(sed -n 's/^port=//p' "$DIR/serve.out")"
[[ -n "$PORT" ]] || { echo "PluginBench serve did not start: $(cat "$DIR/serve.out")" >&2; exit 1; }
"$BENCH" serve-floor >"$DIR/floor.out" 2>&1 &
FLOOR=$!
for _ in $(seq 1 100); do grep -q '^port=' "$DIR/floor.out" 2>/dev/null && break; sleep 0.1; done
FLOOR_PORT="$(sed -n 's/^port=//p' "$DIR/floor.out")"
[[ -n "$FLOOR_PORT" ]] || { echo "PluginBench serve-floor did not start: $(cat "$DIR/floor.out")" >&2; exit 1; }
echo "# machine: $(nproc) cores, $(uname -m); server and callers in two processes"
echo "## callers: grpc-swift (PluginBench load), answers checked"
"$BENCH" load "$PORT" "$ROUNDS" "$SECONDS_PER_RUN" "$CONCURRENCY"
# The same callers against the floor: a p99 close to the one above is the callers' own cost.
echo "## callers: grpc-swift, against the floor"
"$BENCH" load "$FLOOR_PORT" "$ROUNDS" "$SECONDS_PER_RUN" "$CONCURRENCY" | grep -E '^(empty_rpc|firehose_pub)_per_s' \
  | sed -E 's/ ratio=.*//; s/^/floor /'
# Callers that ping like Tinode's: the server must end none of their connections (exits 1 if it does).
echo "## callers: pinging like grpc-go (PluginBench pinging), answers checked, connections ended by the server counted"
"$BENCH" pinging "$PORT" "$ROUNDS" "$SECONDS_PER_RUN" "$CONCURRENCY"
PACE_MS="${PACE_MS:-5}" "$BENCH" pinging "$PORT" 1 "$SECONDS_PER_RUN" "$CONCURRENCY" | grep -v '^round='

# The same calls from h2load (Debian: nghttp2-client), a C HTTP/2 load tool that costs the shared
# cores far less than a grpc-swift client (Tinode's Go client is cheaper too): the same gRPC
# request bodies, CONCURRENCY streams in flight on one connection, latency per call from its log.
command -v h2load >/dev/null || { echo "## h2load not installed (Debian: nghttp2-client): skipped"; exit 0; }
"$BENCH" bodies "$DIR"
call() { # path body -> checks one answer: HTTP 200 and grpc-status 0
  curl -s --http2-prior-knowledge -H 'content-type: application/grpc' -H 'te: trailers' --data-binary "@$DIR/$2.bin" \
    -o /dev/null -D - "http://127.0.0.1:$PORT/$1" | tr -d '\r' | grep -q '^grpc-status: 0$' || { echo "$1 did not answer grpc-status 0" >&2; exit 1; }
}
h2() { # path body [in-flight] [port] -> "calls_per_s p99_ms" (rate from h2load's summary, p99 from its per-call log)
  rm -f "$DIR/$2.log"
  h2load -c1 -m"${3:-$CONCURRENCY}" -D"$SECONDS_PER_RUN" --warm-up-time=1 -d "$DIR/$2.bin" -H 'content-type: application/grpc' \
    -H 'te: trailers' --log-file="$DIR/$2.log" "http://127.0.0.1:${4:-$PORT}/$1" >"$DIR/h2load.out" 2>&1
  grep -q ' 0 failed, 0 errored' "$DIR/h2load.out" || { echo "h2load saw failures: $(cat "$DIR/h2load.out")" >&2; exit 1; }
  local rate
  rate=$(awk '/^finished in/ {print $4}' "$DIR/h2load.out" | tr -d ',')
  sort -n -k3 "$DIR/$2.log" | awk -v r="$rate" '{a[NR]=$3} END {printf "%.0f %.2f\n", r, a[int(NR*0.99)]/1000}'
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo "## callers: h2load, $CONCURRENCY streams on one connection"
call bench.Empty/Call empty; call pbx.Plugin/FireHose firehose_pub; call pbx.Plugin/FireHose firehose_hi
PORT="$FLOOR_PORT" call bench.Empty/Call empty
declare -A rate p99
for round in $(seq 1 "$ROUNDS"); do
  for run in bench.Empty/Call:empty_rpc:empty pbx.Plugin/FireHose:firehose_pub:firehose_pub pbx.Plugin/FireHose:firehose_hi:firehose_hi \
    bench.Empty/Call:floor:empty pbx.Plugin/FireHose:floor_firehose:firehose_pub; do
    IFS=: read -r path name body <<<"$run"
    port="$PORT"; [[ "$name" == floor* ]] && port="$FLOOR_PORT"
    read -r r p < <(h2 "$path" "$body" "$CONCURRENCY" "$port")
    rate[$name]+="$r "; p99[$name]+="$p "
    echo "round=$round ${name}_per_s=$r ${name}_p99_ms=$p"
  done
done
echo "h2load floor_per_s=$(tr ' ' '\n' <<<"${rate[floor]}" | grep . | median) floor_p99_ms=$(tr ' ' '\n' <<<"${p99[floor]}" | grep . | median)" \
  "(HTTP/2 on NIO, nothing but the answer: what this machine allows)"
echo "h2load floor_firehose_per_s=$(tr ' ' '\n' <<<"${rate[floor_firehose]}" | grep . | median)" \
  "floor_firehose_p99_ms=$(tr ' ' '\n' <<<"${p99[floor_firehose]}" | grep . | median)" \
  "(the same server decoding the FireHose request and answering from a task per call)"
base=$(tr ' ' '\n' <<<"${rate[empty_rpc]}" | grep . | median)
echo "h2load empty_rpc_per_s=$base empty_rpc_p99_ms=$(tr ' ' '\n' <<<"${p99[empty_rpc]}" | grep . | median)"
for name in firehose_pub firehose_hi; do
  r=$(tr ' ' '\n' <<<"${rate[$name]}" | grep . | median); p=$(tr ' ' '\n' <<<"${p99[$name]}" | grep . | median)
  require_rates "h2load $name against empty_rpc" "$r" "$base"
  awk -v n="$name" -v r="$r" -v p="$p" -v b="$base" 'BEGIN {printf "h2load %s_per_s=%s %s_p99_ms=%s ratio=%.2f (target >= 0.70, p99 < 2 ms)\n", n, r, n, p, r/b}'
done
# The cost of one call without queueing: one call in flight at a time.
read -r r p < <(h2 bench.Empty/Call empty 1)
read -r fr fp < <(h2 pbx.Plugin/FireHose firehose_pub 1)
read -r lr lp < <(h2 bench.Empty/Call empty 1 "$FLOOR_PORT")
echo "h2load one call in flight: empty_rpc_per_s=$r empty_rpc_p99_ms=$p firehose_pub_per_s=$fr firehose_pub_p99_ms=$fp" \
  "floor_per_s=$lr floor_p99_ms=$lp"
