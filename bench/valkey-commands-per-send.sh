#!/usr/bin/env bash
# Valkey commands per `POST /v1/messages` with an Idempotency-Key, counted by the server itself
# (INFO commandstats after CONFIG RESETSTAT, the commands scripts run included) and the round trips
# the Gateway makes (MONITOR): figures that do not depend on the machine's noise.
# One release Gateway against the Tinode double and a redis-server of its own; one user; one
# warm-up send (its token record then comes from the client-side cache), then COUNT keyed sends
# one after another. Prints the commands per send by name and in total, and the answers' statuses.
# A script (EVALSHA) or a MULTI...EXEC block is one round trip however many commands it holds.
#
#   bench/valkey-commands-per-send.sh [count] [gateway-binary]
set -euo pipefail
ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
COUNT="${1:-100}"
swift build -c release --product GatewayBench >&2
BIN="$(swift build -c release --show-bin-path)"
GATEWAY="${2:-}"
if [[ -z "$GATEWAY" ]]; then
  swift build -c release --product Gateway >&2
  GATEWAY="$BIN/Gateway"
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
REDIS_PORT="$(free_port)"; DOUBLE_PORT="$(free_port)"; HTTP_PORT="$(free_port)"; METRICS_PORT="$(free_port)"
DIR="$(mktemp -d)"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --daemonize yes --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log"
"$BIN/GatewayBench" serve-double --port "$DOUBLE_PORT" >"$DIR/double.out" 2>&1 &
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
ACCESS_SECRET="commands-per-send-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" \
  REFRESH_SECRET="commands-per-send-refresh-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" \
  VALKEY_URL="redis://127.0.0.1:$REDIS_PORT/0" TINODE_GRPC_ADDR="127.0.0.1:$DOUBLE_PORT" TINODE_TOPIC_ID="$ROOM" \
  GATEWAY_HTTP_ADDR="127.0.0.1:$HTTP_PORT" GATEWAY_METRICS_ADDR="127.0.0.1:$METRICS_PORT" GATEWAY_SEND_BURST=100000 \
  SIDECAR_SECRETS_DIR=/nonexistent LOG_LEVEL=error "$GATEWAY" serve 2>"$DIR/gateway.log" &
GATEWAY_PID=$!
for _ in $(seq 1 300); do curl -fs "http://127.0.0.1:$HTTP_PORT/readyz" >/dev/null && break; sleep 0.1; done
TOKEN="$(curl -s -H 'Content-Type: application/json' -d '{"email":"counted@example.com","password":"secret-password"}' \
  "http://127.0.0.1:$HTTP_PORT/v1/auth/register" | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')"
send() {
  curl -s -o /dev/null -w '%{http_code}\n' -H 'Content-Type: application/json' -H "Authorization: Bearer $TOKEN" \
    -H "Idempotency-Key: $1" -d '{"text":"counted"}' "http://127.0.0.1:$HTTP_PORT/v1/messages"
}
send warm-up >/dev/null
redis-cli -p "$REDIS_PORT" CONFIG RESETSTAT >/dev/null
# MONITOR shows what clients sent; commands that scripts run are marked "lua".
redis-cli -p "$REDIS_PORT" MONITOR >"$DIR/monitor.txt" &
MONITOR_PID=$!
sleep 0.5
answers="$(for i in $(seq 1 "$COUNT"); do send "key-$i"; done | sort | uniq -c | awk '{printf "%s:%s ", $2, $1}')"
sleep 0.5
kill "$MONITOR_PID" 2>/dev/null || true
# Round trips: each command a client sent, a MULTI ... EXEC block counting once.
grep -v ' lua\]' "$DIR/monitor.txt" | grep -v '"MONITOR"\|"CONFIG"\|^OK' | awk -v n="$COUNT" '
  { c = toupper($4); gsub(/"/, "", c)
    if (c == "MULTI") { inside = 1; trips++; next }
    if (c == "EXEC") { inside = 0; next }
    if (!inside) trips++; sent[c]++ }
  END { for (c in sent) line = line sprintf("%s=%.2f ", c, sent[c] / n); printf "valkey_round_trips_per_keyed_send=%.2f (%s)\n", trips / n, line }'
redis-cli -p "$REDIS_PORT" INFO commandstats | tr -d '\r' | awk -F'[:=,]' -v n="$COUNT" -v answers="$answers" '
  /^cmdstat_/ && $1 != "cmdstat_config" { sub("cmdstat_", "", $1); line = line sprintf("%s=%.2f ", $1, $3 / n); total += $3 }
  END { printf "valkey_commands_per_keyed_send %stotal=%.2f (answers %s)\n", line, total / n, answers }'
