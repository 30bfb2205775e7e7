#!/usr/bin/env bash
# The Gateway's send path end to end: `POST /v1/messages` from USERS logged-in users (wrk, USERS
# connections, each request with one of the users' tokens in turn) through the release Gateway
# (JWT check, Valkey token lookup, the user's Tinode session) to the Tinode double, beside USERS raw
# gRPC clients publishing to the double directly (`pub`, wait for the ack), alternating, same run.
# Both sides write to one shared group of USERS members, so the double fans each message out to
# USERS sessions either way; its send-queue limit is raised so that the fan-out alone cannot cut a
# client off. Target: Gateway rate at least 0.60 of the direct rate, p99 under 20 ms.
#
# The rate runs are closed loops at saturation: each of the USERS connections sends its next request
# as soon as the last is answered, so their latency is queueing (mean = USERS / rate, Little's law),
# not the cost of a send. The latency target is therefore also checked in a paced run: every user
# sends one message per PACE_MS on average (random gaps; default 1000 ms: one message per user per
# second, far more than people type, 100 sends/s for 100 users, each delivered to all 100 members;
# PACE_MS=200 is every user at the default GATEWAY_SENDS_PER_SECOND, which on a 2-core machine is
# close to saturation again), and that run's p99 is reported beside the saturated one. The
# same paced load is then sent by raw gRPC clients straight to the double (each reading its stream
# all the time, as a real client does), and its p99 is the floor that the double and the fan-out set
# on this machine. The Gateway's and the double's CPU time per paced send are printed too: they are
# steadier than latencies on a shared machine, and show which side a change moved.
#
#   bench/gateway-http.sh [rounds] [seconds] [users]       (PACE_MS=1000 by default)
#
# GATEWAY_BIN=path runs that Gateway binary instead of the one built here (to compare two builds on
# the same machine, one run after the other).
set -euo pipefail
ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
source bench/require-rates.sh
ROUNDS="${1:-3}"
SECONDS_PER_RUN="${2:-10}"
USERS="${3:-100}"
PACE_MS="${PACE_MS:-1000}"

command -v wrk >/dev/null || { echo "needs wrk (Debian: apt-get install wrk)" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "needs redis-server (Debian: redis-server)" >&2; exit 1; }
swift build -c release --product Gateway >&2
swift build -c release --product GatewayBench >&2
BIN="$(swift build -c release --show-bin-path)"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
DIR="$(mktemp -d)"
REDIS_PORT="$(free_port)"; DOUBLE_PORT="$(free_port)"; HTTP_PORT="$(free_port)"; METRICS_PORT="$(free_port)"
PASSWORD="bench-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
SECRET="bench-secret-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --requirepass "$PASSWORD" --save '' --appendonly no \
  --dir "$DIR" --daemonize yes --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log"
for _ in $(seq 1 50); do redis-cli -p "$REDIS_PORT" -a "$PASSWORD" --no-auth-warning ping >/dev/null 2>&1 && break; sleep 0.1; done

"$BIN/GatewayBench" serve-double --port "$DOUBLE_PORT" --solo 1 --send-queue-limit 1000000 >"$DIR/double.out" 2>&1 &
DOUBLE_PID=$!
GATEWAY_PID=""
cleanup() {
  [[ -n "$GATEWAY_PID" ]] && kill "$GATEWAY_PID" 2>/dev/null || true
  kill "$DOUBLE_PID" 2>/dev/null || true
  kill "$(cat "$DIR/redis.pid")" 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT
for _ in $(seq 1 100); do grep -q '^room=' "$DIR/double.out" && break; sleep 0.1; done
ROOM="$(sed -n 's/^room=//p' "$DIR/double.out")"
DIRECT_GROUP="$(sed -n 's/^solo=//p' "$DIR/double.out")"

ENV=development ACCESS_SECRET="$SECRET" REFRESH_SECRET="$SECRET-refresh" VALKEY_URL="redis://:$PASSWORD@127.0.0.1:$REDIS_PORT/0" \
  TINODE_GRPC_ADDR="127.0.0.1:$DOUBLE_PORT" TINODE_TOPIC_ID="$ROOM" GATEWAY_HTTP_ADDR="127.0.0.1:$HTTP_PORT" \
  GATEWAY_METRICS_ADDR="127.0.0.1:$METRICS_PORT" \
  GATEWAY_AUTH_ATTEMPTS_PER_MINUTE=1000000 GATEWAY_SEND_BURST=100000 GATEWAY_SENDS_PER_SECOND=10000 LOG_LEVEL=warning \
  "${GATEWAY_BIN:-$BIN/Gateway}" serve 2>"$DIR/gateway.log" &
GATEWAY_PID=$!
for _ in $(seq 1 300); do curl -fs "http://127.0.0.1:$HTTP_PORT/readyz" >/dev/null && break; sleep 0.1; done
curl -fs "http://127.0.0.1:$HTTP_PORT/readyz" >/dev/null || { echo "the Gateway is not ready:" >&2; tail "$DIR/gateway.log" >&2; exit 1; }

# Register the users; keep their access tokens, one per line.
python3 - "$HTTP_PORT" "$USERS" >"$DIR/tokens" <<'PY'
import json, sys, urllib.request, uuid
port, users = sys.argv[1], int(sys.argv[2])
for i in range(users):
    body = json.dumps({"email": f"bench{i}-{uuid.uuid4().hex[:8]}@example.com", "password": "bench-password", "name": f"B{i}"})
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/auth/register", data=body.encode(),
                                     headers={"Content-Type": "application/json"})
    print(json.load(urllib.request.urlopen(request))["access_token"])
PY
[[ "$(wc -l <"$DIR/tokens")" -eq "$USERS" ]] || { echo "registration failed" >&2; tail "$DIR/gateway.log" >&2; exit 1; }

cat >"$DIR/send.lua" <<LUA
local tokens = {}
for line in io.lines("$DIR/tokens") do tokens[#tokens + 1] = line end
local n = math.random(#tokens)
request = function()
  n = n % #tokens + 1
  return wrk.format("POST", "/v1/messages",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. tokens[n]}, '{"text":"benchmark message"}')
end
LUA
# The same requests, each connection waiting a random 0 to 2 x PACE_MS (PACE_MS on average) after an
# answer before its next request: users who send independently, not in lockstep bursts.
{ cat "$DIR/send.lua"; echo "delay = function() return math.random(0, 2 * $PACE_MS) end"; } >"$DIR/paced.lua"

run_wrk() {
  local script="${1:-$DIR/send.lua}"
  wrk -t2 -c"$USERS" -d"${SECONDS_PER_RUN}s" --latency -s "$script" "http://127.0.0.1:$HTTP_PORT/v1/messages" 2>&1 | awk '
    /Requests\/sec/ {rps=$2}
    /^ +99%/ {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; p99=v}
    /Non-2xx/ {bad=$4}
    END {printf "%s %s %s\n", rps, p99, (bad==""?0:bad)}'
}
# CPU time a process has used so far, in ms (user + system, from /proc).
HZ="$(getconf CLK_TCK)"
cpu_ms() { awk -v hz="$HZ" '{printf "%d\n", ($14 + $15) * 1000 / hz}' "/proc/$1/stat"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

gateway=(); gateway_p99=(); direct=(); paced=(); paced_p99=(); gateway_cpu=(); double_cpu=(); direct_paced_p99=(); direct_cpu=()
for round in $(seq 1 "$ROUNDS"); do
  read -r rps p99 bad < <(run_wrk); gateway+=("$rps"); gateway_p99+=("$p99")
  [[ "$bad" == 0 ]] || echo "warning: $bad non-2xx answers in round $round" >&2
  raw=$("$BIN/GatewayBench" publish-rate --port "$DOUBLE_PORT" --room "$ROOM" --solo "$DIRECT_GROUP" --users "$USERS" \
    --seconds "$SECONDS_PER_RUN" --mode raw --prefix "direct${round}u")
  direct+=("$(sed 's/.*rate=//' <<<"$raw")")
  g0=$(cpu_ms "$GATEWAY_PID"); d0=$(cpu_ms "$DOUBLE_PID")
  read -r rps p99 bad < <(run_wrk "$DIR/paced.lua"); paced+=("$rps"); paced_p99+=("$p99")
  g1=$(cpu_ms "$GATEWAY_PID"); d1=$(cpu_ms "$DOUBLE_PID")
  # CPU per paced send: the Gateway's (HTTP, tokens, its sessions receiving the room's fan-out) and
  # the double's (the same fan-out, sent), so a change in either shows apart from machine noise.
  gateway_cpu+=("$(awk -v c=$((g1 - g0)) -v r="$rps" -v s="$SECONDS_PER_RUN" 'BEGIN {printf "%.2f", c / (r * s)}')")
  double_cpu+=("$(awk -v c=$((d1 - d0)) -v r="$rps" -v s="$SECONDS_PER_RUN" 'BEGIN {printf "%.2f", c / (r * s)}')")
  [[ "$bad" == 0 ]] || echo "warning: $bad non-2xx answers in paced round $round" >&2
  # The same paced load sent directly: what the double and the fan-out alone cost in latency here.
  raw=$("$BIN/GatewayBench" publish-rate --port "$DOUBLE_PORT" --room "$ROOM" --solo "$DIRECT_GROUP" --users "$USERS" \
    --seconds "$SECONDS_PER_RUN" --mode raw --prefix "paced${round}u" --pace-ms "$PACE_MS")
  direct_paced_p99+=("$(sed 's/.*p99_ms=\([0-9.]*\).*/\1/' <<<"$raw")")
  direct_cpu+=("$(sed 's/.*cpu_ms_per_pub=\([0-9.]*\).*/\1/' <<<"$raw")")
  echo "# round $round: gateway ${gateway[-1]} req/s p99 ${gateway_p99[-1]} ms; direct gRPC ${direct[-1]} pub/s;" \
    "paced ${paced[-1]} req/s p99 ${paced_p99[-1]} ms, CPU per send: gateway ${gateway_cpu[-1]} ms, double ${double_cpu[-1]} ms;" \
    "direct paced p99 ${direct_paced_p99[-1]} ms, client CPU per pub ${direct_cpu[-1]} ms"
done
G=$(printf '%s\n' "${gateway[@]}" | median); D=$(printf '%s\n' "${direct[@]}" | median)
GP=$(printf '%s\n' "${gateway_p99[@]}" | median)
PR=$(printf '%s\n' "${paced[@]}" | median); PP=$(printf '%s\n' "${paced_p99[@]}" | median)
GC=$(printf '%s\n' "${gateway_cpu[@]}" | median); DC=$(printf '%s\n' "${double_cpu[@]}" | median)
DP=$(printf '%s\n' "${direct_paced_p99[@]}" | median); RC=$(printf '%s\n' "${direct_cpu[@]}" | median)
# The link to Tinode over the whole run: the double pings after every client message as Tinode's
# grpc-go does, so a link that cannot take that loses connections (and every stream on them) here.
# /metrics is on GATEWAY_METRICS_ADDR; a GATEWAY_BIN built before that serves it on the API's port.
METRICS="$(curl -fs "http://127.0.0.1:$METRICS_PORT/metrics" || curl -fs "http://127.0.0.1:$HTTP_PORT/metrics")"
LOST_CONNECTIONS=$(awk '/^gateway_tinode_connection_closed_total/ && !/closed_locally/ {s += $NF} END {print s + 0}' <<<"$METRICS")
LOST_STREAMS=$(awk '/^gateway_tinode_streams_lost_total/ {s += $NF} END {print s + 0}' <<<"$METRICS")
echo "# $(nproc) cores; $USERS users; wrk -t2 -c$USERS -d${SECONDS_PER_RUN}s; medians of $ROUNDS rounds"
echo "tinode_connections_lost=$LOST_CONNECTIONS tinode_streams_lost=$LOST_STREAMS (whole run; target 0)"
require_rates "gateway sends (gateway, direct gRPC, paced)" "$G" "$D" "$PR"
awk -v g="$G" -v d="$D" -v gp="$GP" -v pr="$PR" -v pp="$PP" -v pace="$PACE_MS" -v gc="$GC" -v dc="$DC" -v dp="$DP" -v rc="$RC" 'BEGIN {
  printf "gateway_send_rps=%.0f gateway_p99_ms=%.2f direct_pub_per_s=%.0f (saturated, closed loop)\n", g, gp, d
  printf "paced_send_rps=%.0f paced_p99_ms=%.2f (one send per user every %d ms on average)\n", pr, pp, pace
  printf "paced_cpu_ms_per_send gateway=%.2f double=%.2f raw_clients=%.2f (each send reaches every member session)\n", gc, dc, rc
  printf "direct_paced_p99_ms=%.2f (the same paced load as raw gRPC pubs, ack only: the double and fan-out alone)\n", dp
  printf "ratio=%.2f (target >= 0.60) paced_p99_ms=%.2f (target < 20)\n", g/d, pp }'
