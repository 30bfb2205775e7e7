#!/usr/bin/env bash
# Soak (issue 9): both programs at a moderate, steady load for MINUTES (default 20) against a real
# redis-server and the Tinode double, release builds. The Gateway gets USERS logged-in users sending
# (one send per user per second on average, every tenth request a history page); AuthPlugin gets
# REST-auth `auth` calls for the same users' tokens (about 200 per second) and, when h2load is
# installed (Debian: nghttp2-client), FireHose calls on its plugin port (100 per second, 8 in flight,
# a new HTTP/2 connection every minute). The plugin port also gets FireHose calls as Tinode makes
# them: one connection for the whole soak, 8 calls in flight, each waiting 0 to 80 ms before the
# next (about 200 calls/s), and a PING after (nearly) every answer, as grpc-go's flow control sends
# them (`PluginBench pinging`). Every 30 s the script samples each program's resident memory and
# open file descriptors. STREAMS (default 10) of the users also hold an SSE stream open for the
# whole soak: each must still be open at the end (no token watch, periodic token check or revocation
# listener may end a stream whose token works) and must have received messages.
#
# Every limit is at its default except GATEWAY_AUTH_ATTEMPTS_PER_MINUTE: the script registers all
# users from one address, which the per-client limit (20 a minute) exists to stop.
#
# Pass: resident memory at the end within 10% of its value after the warm-up (WARMUP_MINUTES, default
# 2), no file-descriptor growth (at most 5 more than after warm-up: sockets come and go), and no
# error (no non-2xx from the Gateway, no REST-auth answer without the user's uid, no socket error,
# no failed FireHose call; wrk waits up to 10 s for an answer), and no plugin connection ended by
# AuthPlugin (a GOAWAY or a close of the pinging caller's connection), and no connection or stream from
# the Gateway to the double lost (the double pings after every message, as Tinode does). Access tokens live for the whole soak plus an hour
# (JWT_ACCESS_TTL), so that no request fails only because its token expired.
# Prints the samples, then one summary line; exits 1 when a check fails.
#
#   bench/soak.sh [minutes] [users]
set -euo pipefail
ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
MINUTES="${1:-20}"
USERS="${2:-50}"
STREAMS="${STREAMS:-10}"
WARMUP_MINUTES="${WARMUP_MINUTES:-2}"
SAMPLE_SECONDS=30

command -v wrk >/dev/null || { echo "needs wrk (Debian: apt-get install wrk)" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "needs redis-server (Debian: redis-server)" >&2; exit 1; }
for product in Gateway AuthPlugin GatewayBench PluginBench; do swift build -c release --product "$product" >&2; done
BIN="$(swift build -c release --show-bin-path)"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
DIR="$(mktemp -d)"
REDIS_PORT="$(free_port)"; DOUBLE_PORT="$(free_port)"; HTTP_PORT="$(free_port)"; AUTH_PORT="$(free_port)"; GRPC_PORT="$(free_port)"
METRICS_PORT="$(free_port)"
PASSWORD="soak-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
SECRET="soak-secret-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --requirepass "$PASSWORD" --save '' --appendonly no \
  --dir "$DIR" --daemonize yes --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log"
for _ in $(seq 1 50); do redis-cli -p "$REDIS_PORT" -a "$PASSWORD" --no-auth-warning ping >/dev/null 2>&1 && break; sleep 0.1; done
VALKEY_URL="redis://:$PASSWORD@127.0.0.1:$REDIS_PORT/0"

"$BIN/GatewayBench" serve-double --port "$DOUBLE_PORT" --solo 1 >"$DIR/double.out" 2>&1 &
DOUBLE_PID=$!
GATEWAY_PID=""; AUTH_PID=""; WRK_PIDS=(); SSE_PIDS=()
cleanup() {
  for pid in "${WRK_PIDS[@]}" "${SSE_PIDS[@]}" "$GATEWAY_PID" "$AUTH_PID" "$DOUBLE_PID"; do [[ -n "$pid" ]] && kill "$pid" 2>/dev/null || true; done
  kill "$(cat "$DIR/redis.pid")" 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT
for _ in $(seq 1 100); do grep -q '^room=' "$DIR/double.out" && break; sleep 0.1; done
ROOM="$(sed -n 's/^room=//p' "$DIR/double.out")"

ACCESS_SECRET="$SECRET" REFRESH_SECRET="$SECRET-refresh" VALKEY_URL="$VALKEY_URL" JWT_ACCESS_TTL=$((MINUTES * 60 + 3600)) \
  TINODE_GRPC_ADDR="127.0.0.1:$DOUBLE_PORT" TINODE_TOPIC_ID="$ROOM" GATEWAY_HTTP_ADDR="127.0.0.1:$HTTP_PORT" \
  GATEWAY_METRICS_ADDR="127.0.0.1:$METRICS_PORT" \
  GATEWAY_AUTH_ATTEMPTS_PER_MINUTE=1000000 LOG_LEVEL=warning "$BIN/Gateway" serve 2>"$DIR/gateway.log" &
GATEWAY_PID=$!
ACCESS_SECRET="$SECRET" VALKEY_URL="$VALKEY_URL" AUTHPLUGIN_HTTP_ADDR="127.0.0.1:$AUTH_PORT" \
  AUTHPLUGIN_GRPC_ADDR="127.0.0.1:$GRPC_PORT" LOG_LEVEL=warning "$BIN/AuthPlugin" serve 2>"$DIR/authplugin.log" &
AUTH_PID=$!
for _ in $(seq 1 300); do curl -fs "http://127.0.0.1:$HTTP_PORT/readyz" >/dev/null && break; sleep 0.1; done
curl -fs "http://127.0.0.1:$HTTP_PORT/readyz" >/dev/null || { echo "the Gateway is not ready:" >&2; tail "$DIR/gateway.log" >&2; exit 1; }

python3 - "$HTTP_PORT" "$USERS" >"$DIR/tokens" <<'PY'
import json, sys, urllib.request, uuid
port, users = sys.argv[1], int(sys.argv[2])
for i in range(users):
    body = json.dumps({"email": f"soak{i}-{uuid.uuid4().hex[:8]}@example.com", "password": "soak-password", "name": f"S{i}"})
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/auth/register", data=body.encode(),
                                     headers={"Content-Type": "application/json"})
    print(json.load(urllib.request.urlopen(request))["access_token"])
PY
[[ "$(wc -l <"$DIR/tokens")" -eq "$USERS" ]] || { echo "registration failed" >&2; exit 1; }

# Each wrk thread counts the answers that are not what a healthy server gives; done() prints the sum.
COUNTING='
local threads = {}
setup = function(thread) table.insert(threads, thread) end
init = function() bad = 0 end
done = function()
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("bad") end
  io.write("bad_answers=" .. total .. "\n")
end'
cat >"$DIR/gateway.lua" <<LUA
local tokens = {}
for line in io.lines("$DIR/tokens") do tokens[#tokens + 1] = line end
local n = math.random(#tokens)
local count = 0
request = function()
  n = n % #tokens + 1
  count = count + 1
  local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. tokens[n]}
  if count % 10 == 0 then return wrk.format("GET", "/v1/messages?limit=20", headers) end
  return wrk.format("POST", "/v1/messages", headers, '{"text":"soak message ' .. count .. '"}')
end
response = function(status) if status >= 300 then bad = bad + 1 end end
delay = function() return math.random(0, 2000) end
$COUNTING
LUA
cat >"$DIR/auth.lua" <<LUA
local bodies = {}
for line in io.lines("$DIR/tokens") do
  local secret = io.popen("printf '%s' '" .. line .. "' | base64 -w0"):read("*a")
  bodies[#bodies + 1] = '{"endpoint":"auth","name":"rest","secret":"' .. secret .. '","addr":"127.0.0.1:5555"}'
end
local n = math.random(#bodies)
request = function()
  n = n % #bodies + 1
  return wrk.format("POST", "/auth", {["Content-Type"] = "application/json"}, bodies[n])
end
response = function(status, headers, body) if status ~= 200 or not string.find(body, '"uid":"', 1, true) then bad = bad + 1 end end
delay = function() return math.random(0, 200) end
$COUNTING
LUA

DURATION=$((MINUTES * 60 + 20))  # the last sample falls inside the run
# Live streams for the whole soak, one per user for the first STREAMS users.

for i in $(seq 1 "$STREAMS"); do
  token="$(sed -n "${i}p" "$DIR/tokens")"
  curl -sN --max-time $((DURATION + 60)) -H "Authorization: Bearer $token" \
    "http://127.0.0.1:$HTTP_PORT/v1/messages/stream" >"$DIR/sse-$i.txt" 2>&1 &
  SSE_PIDS+=($!)
done
wrk -t1 -c"$USERS" -d"${DURATION}s" --timeout 10s -s "$DIR/gateway.lua" "http://127.0.0.1:$HTTP_PORT/" >"$DIR/wrk-gateway.txt" 2>&1 &
WRK_PIDS+=($!)
wrk -t1 -c20 -d"${DURATION}s" --timeout 10s -s "$DIR/auth.lua" "http://127.0.0.1:$AUTH_PORT/" >"$DIR/wrk-auth.txt" 2>&1 &
WRK_PIDS+=($!)

# The plugin port as Tinode uses it: one connection, pinged after (nearly) every answer.
PACE_MS=40 "$BIN/PluginBench" pinging "$GRPC_PORT" 1 "$((DURATION - 10))" 8 1 >"$DIR/pinging-plugin.txt" 2>&1 &
WRK_PIDS+=($!)

# The plugin port, one h2load run per minute (each on a new connection), until the soak's end.
PLUGIN_PID=""
if command -v h2load >/dev/null; then
  "$BIN/PluginBench" bodies "$DIR"
  (
    end=$(($(date +%s) + DURATION))
    while (($(date +%s) + 10 < end)); do
      h2load -c1 -m8 --rps=100 -D "$((end - $(date +%s) < 60 ? end - $(date +%s) - 5 : 60))" -d "$DIR/firehose_pub.bin" \
        -H 'content-type: application/grpc' -H 'te: trailers' "http://127.0.0.1:$GRPC_PORT/pbx.Plugin/FireHose" >>"$DIR/h2load-plugin.txt" 2>&1 || true
    done
  ) &
  PLUGIN_PID=$!
  WRK_PIDS+=("$PLUGIN_PID")
fi

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
fds() { ls "/proc/$1/fd" | wc -l; }
echo "# minute gateway_rss_kib gateway_fds authplugin_rss_kib authplugin_fds"
start=$(date +%s)
warm_g=""; warm_a=""; warm_gf=""; warm_af=""
while true; do
  sleep "$SAMPLE_SECONDS"
  # Samples only under load: once wrk is done its connections are gone.
  kill -0 "${WRK_PIDS[0]}" 2>/dev/null && kill -0 "${WRK_PIDS[1]}" 2>/dev/null || break
  kill -0 "$GATEWAY_PID" 2>/dev/null && kill -0 "$AUTH_PID" 2>/dev/null || { echo "a program exited during the soak" >&2; exit 1; }
  elapsed=$(($(date +%s) - start))
  g=$(rss "$GATEWAY_PID"); gf=$(fds "$GATEWAY_PID"); a=$(rss "$AUTH_PID"); af=$(fds "$AUTH_PID")
  printf '%.1f %s %s %s %s\n' "$(echo "$elapsed / 60" | bc -l)" "$g" "$gf" "$a" "$af"
  if [[ -z "$warm_g" && $elapsed -ge $((WARMUP_MINUTES * 60)) ]]; then warm_g=$g; warm_gf=$gf; warm_a=$a; warm_af=$af; fi
  end_g=$g; end_gf=$gf; end_a=$a; end_af=$af
done
wait "${WRK_PIDS[@]}" 2>/dev/null || true
# Streams still open, and what they carried: every stream must be open and have seen messages.
s_open=0; s_quiet=0; s_messages=0
for i in "${!SSE_PIDS[@]}"; do
  kill -0 "${SSE_PIDS[$i]}" 2>/dev/null && s_open=$((s_open + 1))
  n=$(grep -c '^event: message' "$DIR/sse-$((i + 1)).txt" || true)
  s_messages=$((s_messages + n)); (( n > 0 )) || s_quiet=$((s_quiet + 1))
  kill "${SSE_PIDS[$i]}" 2>/dev/null || true
done
grep -h '^event: revoked' -A1 "$DIR"/sse-*.txt >&2 || true
# The Gateway's link to the double (which pings after every client message, like Tinode's grpc-go):
# connections lost for any reason but our own close, and user streams that ended under a session.
GW_METRICS="$(curl -fs "http://127.0.0.1:$METRICS_PORT/metrics" || true)"
t_lost=$(awk '/^gateway_tinode_connection_closed_total/ && !/closed_locally/ {s += $NF} END {print s + 0}' <<<"$GW_METRICS")
t_streams=$(awk '/^gateway_tinode_streams_lost_total/ {s += $NF} END {print s + 0}' <<<"$GW_METRICS")
# h2load's summaries: calls that succeeded, and those that failed, errored or were not answered 2xx.
p_calls=0; p_bad=0
if [[ -n "$PLUGIN_PID" ]]; then
  read -r p_calls p_bad < <(awk '/^requests:/ {s += $8; b += $10 + $12 + $14} /^status codes:/ {b += $5 + $7 + $9} END {print s+0, b+0}' "$DIR/h2load-plugin.txt")
  (( p_calls > 0 )) || p_bad=1
fi
# The pinging caller's summary: calls answered, failed, PINGs sent, connections AuthPlugin ended.
read -r pg_calls pg_failed pg_pings pg_closed < <(sed -n \
  's/^pinging_firehose_pub_per_s=.* calls=\([0-9]*\) failed=\([0-9]*\) pings_sent=\([0-9]*\) .*connections_closed_by_server=\([0-9]*\).*/\1 \2 \3 \4/p' \
  "$DIR/pinging-plugin.txt" | tail -1 | grep . || echo "0 1 0 0")
(( pg_calls > 0 )) || { echo "the pinging caller reported nothing: $(tail -3 "$DIR/pinging-plugin.txt")" >&2; pg_failed=1; }
[[ -n "$warm_g" ]] || { echo "the soak ended before the warm-up did" >&2; exit 1; }
parse() { awk '/requests in/ {r=$1} /Socket errors/ {s=$0} /^bad_answers=/ {split($0,a,"="); b=a[2]} END {printf "%s %s %s\n", r, (s==""?"none":s), b}' "$1"; }
read -r g_requests g_socket g_bad < <(parse "$DIR/wrk-gateway.txt" | awk '{print $1, ($2=="none"?0:1), $NF}')
read -r a_requests a_socket a_bad < <(parse "$DIR/wrk-auth.txt" | awk '{print $1, ($2=="none"?0:1), $NF}')
grep -h "Socket errors" "$DIR"/wrk-*.txt >&2 || true
awk -v m="$MINUTES" -v wg="$warm_g" -v eg="$end_g" -v wa="$warm_a" -v ea="$end_a" -v wgf="$warm_gf" -v egf="$end_gf" \
  -v waf="$warm_af" -v eaf="$end_af" -v gr="$g_requests" -v gb="$g_bad" -v gs="$g_socket" -v ar="$a_requests" -v ab="$a_bad" \
  -v as="$a_socket" -v pc="$p_calls" -v pb="$p_bad" -v gc="$pg_calls" -v gf="$pg_failed" -v gp="$pg_pings" -v gx="$pg_closed" -v tl="$t_lost" -v ts="$t_streams" \
  -v so="$s_open" -v sn="$STREAMS" -v sq="$s_quiet" -v sm="$s_messages" 'BEGIN {
  growth_g = (eg - wg) * 100 / wg; growth_a = (ea - wa) * 100 / wa
  ok = (growth_g <= 10 && growth_a <= 10 && egf - wgf <= 5 && eaf - waf <= 5 && gb == 0 && ab == 0 && gs == 0 && as == 0 && pb == 0 \
    && gc > 0 && gf == 0 && gx == 0 && tl == 0 && ts == 0 && so == sn && sq == 0)
  printf "soak minutes=%d gateway: rss_kib %d -> %d (%+.1f%%) fds %d -> %d requests=%d errors=%d socket_errors=%d tinode_connections_lost=%d tinode_streams_lost=%d (expected 0) sse_open=%d/%d sse_messages=%d; ", m, wg, eg, growth_g, wgf, egf, gr, gb, gs, tl, ts, so, sn, sm
  printf "authplugin: rss_kib %d -> %d (%+.1f%%) fds %d -> %d requests=%d errors=%d socket_errors=%d firehose_calls=%d firehose_errors=%d ", wa, ea, growth_a, waf, eaf, ar, ab, as, pc, pb
  printf "pinging_firehose_calls=%d pinging_firehose_errors=%d pings=%d connections_closed=%d (expected 0); %s\n", gc, gf, gp, gx, (ok ? "PASS" : "FAIL")
  exit (ok ? 0 : 1) }'
