#!/usr/bin/env bash
# REST-auth hot path: `POST /auth` with a valid Gateway token (JWT verification + the token record,
# from Valkey or its client-side cache) against bare endpoints of the same server returning a fixed
# small JSON: `GET /healthz` (no body at all) and REST-auth's `POST /rtagns` (the same request
# pipeline without token and store), same load tool, same connections, same run. Target (issue 3):
# /auth throughput >= 60% of the bare endpoint at 64 connections, p99 under 5 ms.
#
# The saturated runs (every connection sends its next request as soon as the answer is in) give the
# throughput; their latency is queueing behind the other 63 connections on two shared cores. The
# paced runs give the latency at a load the server is not saturated by: the same connections, each
# waiting a random 0 to 2*PACE_MS (default 10 ms, about 6,400 requests/s at 64 connections)
# between its requests (wrk's `delay()`; the wait is not part of the measured latency).
#
#   [PACE_MS=10] bench/authplugin-rest.sh [rounds] [seconds-per-run] [connections]
set -euo pipefail
ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
source bench/require-rates.sh
ROUNDS="${1:-3}"
SECONDS_PER_RUN="${2:-10}"
CONNECTIONS="${3:-64}"
PACE_MS="${PACE_MS:-10}"

command -v wrk >/dev/null || { echo "needs wrk (Debian: apt-get install wrk)" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "needs redis-server (Debian: redis-server)" >&2; exit 1; }
swift build -c release --product AuthPlugin >&2
swift build -c release --product SidecarBench >&2
BIN="$(swift build -c release --show-bin-path)"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
DIR="$(mktemp -d)"
REDIS_PORT="$(free_port)"
HTTP_PORT="$(free_port)"
PASSWORD="bench-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
SECRET="bench-access-secret-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --requirepass "$PASSWORD" --save '' --appendonly no \
  --dir "$DIR" --daemonize yes --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log"
VALKEY_URL="redis://:$PASSWORD@127.0.0.1:$REDIS_PORT/0"
for _ in $(seq 1 50); do redis-cli -p "$REDIS_PORT" -a "$PASSWORD" --no-auth-warning ping >/dev/null 2>&1 && break; sleep 0.1; done

ACCESS_SECRET="$SECRET" REFRESH_SECRET="$SECRET" VALKEY_URL="$VALKEY_URL" LOG_LEVEL=warning \
  AUTHPLUGIN_HTTP_ADDR="127.0.0.1:$HTTP_PORT" AUTHPLUGIN_GRPC_ADDR="127.0.0.1:0" "$BIN/AuthPlugin" serve 2>"$DIR/authplugin.log" &
AUTH_PID=$!
cleanup() {
  kill "$AUTH_PID" 2>/dev/null || true
  kill "$(cat "$DIR/redis.pid")" 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null && break; sleep 0.1; done

TOKEN="$("$BIN/SidecarBench" mint-gateway-token "$VALKEY_URL" "$SECRET")"
SECRET_B64="$(printf '%s' "$TOKEN" | base64 -w0)"
BODY="{\"endpoint\":\"auth\",\"name\":\"rest\",\"secret\":\"$SECRET_B64\",\"addr\":\"127.0.0.1:5555\"}"
check="$(curl -s -XPOST "http://127.0.0.1:$HTTP_PORT/auth" -d "$BODY")"
case "$check" in *'"uid":"BenchUser01"'*) ;; *) echo "the token does not log in: $check" >&2; exit 1 ;; esac

cat >"$DIR/auth.lua" <<LUA
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["Content-Type"] = "application/json"
LUA
# The second baseline: REST-auth's own fixed answer (`rtagns`), a POST of the same size through the same
# route, body parsing, deadline and metrics, without the token check and the store.
RTAGNS_BODY="$(sed 's/"endpoint":"auth"/"endpoint":"rtagns"/' <<<"$BODY")"
cat >"$DIR/rtagns.lua" <<LUA
wrk.method = "POST"
wrk.body = '$RTAGNS_BODY'
wrk.headers["Content-Type"] = "application/json"
LUA

# The paced variants: the same requests, with a random wait between a connection's requests.
pace_lua="function delay() return math.random(0, $((2 * PACE_MS))) end"
{ cat "$DIR/auth.lua"; echo "$pace_lua"; } >"$DIR/auth-paced.lua"
echo "$pace_lua" >"$DIR/bare-paced.lua"

# One wrk run -> "requests_per_second p99_ms"
run() {
  wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency "$@" 2>&1 | awk '
    /Requests\/sec/ {rps=$2}
    /^ +99%/ {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; p99=v}
    /Non-2xx/ {bad=$4}
    END {printf "%s %s %s\n", rps, p99, (bad==""?0:bad)}'
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

run "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null  # warm-up
bare=(); auth=(); bare_p99=(); auth_p99=(); fixed=(); fixed_p99=(); paced_bare_p99=(); paced_auth_p99=(); paced_auth=()
for i in $(seq 1 "$ROUNDS"); do
  read -r rps p99 bad < <(run "http://127.0.0.1:$HTTP_PORT/healthz"); bare+=("$rps"); bare_p99+=("$p99")
  read -r rps p99 bad < <(run -s "$DIR/auth.lua" "http://127.0.0.1:$HTTP_PORT/auth"); auth+=("$rps"); auth_p99+=("$p99")
  [[ "$bad" == 0 ]] || echo "warning: $bad non-2xx answers to /auth in round $i" >&2
  read -r rps p99 bad < <(run -s "$DIR/rtagns.lua" "http://127.0.0.1:$HTTP_PORT/rtagns"); fixed+=("$rps"); fixed_p99+=("$p99")
  read -r rps p99 bad < <(run -s "$DIR/bare-paced.lua" "http://127.0.0.1:$HTTP_PORT/healthz"); paced_bare_p99+=("$p99")
  read -r rps p99 bad < <(run -s "$DIR/auth-paced.lua" "http://127.0.0.1:$HTTP_PORT/auth"); paced_auth+=("$rps"); paced_auth_p99+=("$p99")
  [[ "$bad" == 0 ]] || echo "warning: $bad non-2xx answers to paced /auth in round $i" >&2
  echo "# round $i: bare ${bare[-1]} req/s p99 ${bare_p99[-1]} ms; /auth ${auth[-1]} req/s p99 ${auth_p99[-1]} ms;" \
    "/rtagns ${fixed[-1]} req/s p99 ${fixed_p99[-1]} ms; paced: bare p99 ${paced_bare_p99[-1]} ms," \
    "/auth ${paced_auth[-1]} req/s p99 ${paced_auth_p99[-1]} ms"
done
B=$(printf '%s\n' "${bare[@]}" | median); A=$(printf '%s\n' "${auth[@]}" | median)
BP=$(printf '%s\n' "${bare_p99[@]}" | median); AP=$(printf '%s\n' "${auth_p99[@]}" | median)
F=$(printf '%s\n' "${fixed[@]}" | median); FP=$(printf '%s\n' "${fixed_p99[@]}" | median)
PB=$(printf '%s\n' "${paced_bare_p99[@]}" | median); PA=$(printf '%s\n' "${paced_auth_p99[@]}" | median)
PR=$(printf '%s\n' "${paced_auth[@]}" | median)
echo "# $(nproc) cores; wrk -t2 -c$CONNECTIONS -d${SECONDS_PER_RUN}s on the same machine; medians of $ROUNDS rounds"
require_rates "REST-auth (/auth, /healthz, /rtagns)" "$A" "$B" "$F"
awk -v a="$A" -v b="$B" -v ap="$AP" -v bp="$BP" -v f="$F" -v fp="$FP" -v pb="$PB" -v pa="$PA" -v pr="$PR" -v pace="$PACE_MS" 'BEGIN {
  printf "bare_healthz_rps=%.0f bare_p99_ms=%.2f\n", b, bp
  printf "rest_rtagns_rps=%.0f rest_rtagns_p99_ms=%.2f\n", f, fp
  printf "rest_auth_rps=%.0f rest_auth_p99_ms=%.2f\n", a, ap
  printf "ratio=%.2f against GET /healthz, %.2f against POST /rtagns (target >= 0.60) p99_target_ms=5\n", a/b, a/f
  printf "paced (0 to %d ms between requests per connection): rest_auth_rps=%.0f rest_auth_p99_ms=%.2f bare_healthz_p99_ms=%.2f\n", 2*pace, pr, pa, pb }'
