#!/usr/bin/env bash
# Property-based test of the Gateway's HTTP API against its contract, openapi/openapi.yaml.
#
# Schemathesis (PyPI, pinned below) generates requests for every operation of the spec, valid ones
# and deliberately broken ones, and sends them to a real Gateway process that talks to the Tinode
# double (GatewayBench serve-double) and to a real redis-server with a password. Every answer must
# pass four checks:
#   not_a_server_error            no 5xx (one exception: GET /v1/users/{user_id}'s 501, see below)
#   status_code_conformance       the status is documented for the operation
#   content_type_conformance      the Content-Type is one the operation documents for that status
#   response_schema_conformance   the body (each event of an event stream) validates against its schema
# ContractTests (Swift) check the same for the requests someone thought of; this finds the ones
# nobody did (odd JSON, odd headers, odd query strings). A failed check exits non-zero, and
# schemathesis prints each failure with a curl command that reproduces it.
#
#   openapi/api-fuzz.sh [BIN_DIR [VENV]] [-- SCHEMATHESIS-RUN-OPTIONS...]
#
# BIN_DIR (argument or environment; default .build/debug) holds the built Gateway and GatewayBench:
# this script never builds (scripts/test runs it after its build). VENV (argument or environment;
# default .venv-test) is a Python venv with schemathesis==$SCHEMATHESIS_VERSION (scripts/test
# installs it). MAX_EXAMPLES (default 200), STREAM_EXAMPLES (default 15) and SEED (default 1) bound
# and fix the run; KEEP_LOGS=1 keeps the temporary directory (the Gateway's and the double's logs,
# the schemathesis configuration, reports). Options after `--` go to `schemathesis run`, e.g.
#   openapi/api-fuzz.sh -- --include-operation-id sendMessage --max-examples 1000 --report har
set -euo pipefail

ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
log() { printf '[api-fuzz] %s\n' "$*" >&2; }

# Pinned, as every tool of scripts/test, so that a new release cannot turn CI red on its own
# (scripts/test installs exactly this version; keep the two equal).
SCHEMATHESIS_VERSION=4.32.5
positional=()
while (($#)) && [[ "$1" != "--" ]]; do positional+=("$1"); shift; done
(($#)) && shift
EXTRA_ARGS=("$@")
BIN_DIR="${positional[0]:-${BIN_DIR:-.build/debug}}"
VENV="${positional[1]:-${VENV:-.venv-test}}"
# 200 examples per operation: under a minute on two cores with the debug build, well inside the
# three minutes CI gives this step. A fixed seed makes a red run repeatable.
MAX_EXAMPLES="${MAX_EXAMPLES:-200}"
STREAM_EXAMPLES="${STREAM_EXAMPLES:-15}"
SEED="${SEED:-1}"

for program in Gateway GatewayBench; do
  [[ -x "$BIN_DIR/$program" ]] || { log "no $BIN_DIR/$program: build it first (swift build)"; exit 1; }
done
BIN_DIR="$(cd -- "$BIN_DIR" && pwd -P)"
command -v redis-server >/dev/null || { log "needs redis-server (Debian: redis-server)"; exit 1; }
command -v curl >/dev/null || { log "needs curl"; exit 1; }
installed="$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("schemathesis"))' 2>/dev/null || true)"
if [[ "$installed" != "$SCHEMATHESIS_VERSION" ]]; then
  log "$VENV has schemathesis '${installed:-none}', not $SCHEMATHESIS_VERSION:"
  log "  $VENV/bin/pip install schemathesis==$SCHEMATHESIS_VERSION   (scripts/test does this)"
  exit 1
fi
VENV="$(cd -- "$VENV" && pwd -P)"
PYTHON="$VENV/bin/python"

# Four distinct free loopback ports (all held until all are chosen: one after the other, the kernel
# may hand out the same port twice).
free_ports() {
  "$PYTHON" -c '
import socket
sockets = [socket.socket() for _ in range(4)]
for s in sockets: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in sockets))'
}
random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

DIR="$(mktemp -d)"
DOUBLE_PID=""; GATEWAY_PID=""
cleanup() {
  local status=$?
  for pid in "$GATEWAY_PID" "$DOUBLE_PID"; do
    [[ -n "$pid" ]] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; } || true
  done
  if [[ -f "$DIR/redis.pid" ]]; then
    local redis_pid; redis_pid="$(cat "$DIR/redis.pid")"
    kill "$redis_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$redis_pid" 2>/dev/null || break; sleep 0.1; done
  fi
  if [[ "${KEEP_LOGS:-0}" == 1 ]]; then log "logs kept in $DIR"; else rm -rf "$DIR"; fi
  exit "$status"
}
trap cleanup EXIT

read -r REDIS_PORT DOUBLE_PORT HTTP_PORT METRICS_PORT < <(free_ports)

# --- redis-server: our own, on a free loopback port, with a password, nothing saved ----------------
REDIS_PASSWORD="fuzz-$(random_hex 12)"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --requirepass "$REDIS_PASSWORD" --save '' --appendonly no \
  --dir "$DIR" --daemonize yes --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log"
redis_ping() { redis-cli -p "$REDIS_PORT" -a "$REDIS_PASSWORD" --no-auth-warning ping >/dev/null 2>&1; }
for _ in $(seq 1 50); do redis_ping && break; sleep 0.1; done
redis_ping || { log "redis-server did not start:"; tail "$DIR/redis.log" >&2; exit 1; }

# A port chosen above may be taken by the time a program binds it (the programs' own outgoing
# connections draw from the same range): then that program is started again on other ports.
# (The double says only that it has no listening address then.)
port_taken() { grep -Eq 'Address already in use|no listening address bound' "$1"; }

# --- The Tinode double --------------------------------------------------------------------------------
for attempt in 1 2 3; do
  "$BIN_DIR/GatewayBench" serve-double --port "$DOUBLE_PORT" --solo 1 >"$DIR/double.out" 2>&1 &
  DOUBLE_PID=$!
  for _ in $(seq 1 100); do
    grep -q '^room=' "$DIR/double.out" && break
    kill -0 "$DOUBLE_PID" 2>/dev/null || break
    sleep 0.1
  done
  ROOM="$(sed -n 's/^room=//p' "$DIR/double.out")"
  [[ -n "$ROOM" ]] && break
  if ((attempt < 3)) && port_taken "$DIR/double.out"; then
    wait "$DOUBLE_PID" 2>/dev/null || true
    read -r DOUBLE_PORT _ < <(free_ports)
    continue
  fi
  log "the Tinode double did not start:"; tail "$DIR/double.out" >&2; exit 1
done

# --- The Gateway ----------------------------------------------------------------------------------------
# With a clean environment (env -i): a MONGO_URL, GATEWAY_* or configuration file of the caller's
# would change what is tested. Development mode, as a developer runs it:
# * e-mail verification off: register answers the token pair, so the fuzzer can get one; verify and
#   resend answer their documented 404 verification_off;
# * no MONGO_URL: GET /v1/users/{user_id} answers its documented 501, history comes through Tinode;
# * EXTERNAL_JWT_ISSUER set: /v1/auth/external then parses every generated token (its issuer)
#   instead of answering 404 before looking at it, and one token with that issuer (below) goes on
#   to Tinode (the Gateway wants a key for the issuer too, though only AuthPlugin verifies with it);
# * GATEWAY_MAX_REPLAY=2 (default 1000): three messages are posted below before the run, so a
#   stream resumed from an early Last-Event-ID starts with a `reset` event, then replays two
#   `message` events; all three kinds of event the spec names but `revoked` are then checked.
# The limits are raised far beyond what one run reaches, so that the answers are about the requests
# and not about how many came from one address (429 is documented wherever it can happen, so the
# checks would pass anyway, but the run would test little but the limiters):
#   GATEWAY_AUTH_ATTEMPTS_PER_MINUTE, GATEWAY_LOGIN_ATTEMPTS_PER_ACCOUNT_PER_HOUR and
#   GATEWAY_VERIFY_*_PER_HOUR: every auth request comes from 127.0.0.1, many for the same address;
#   GATEWAY_SEND_BURST, GATEWAY_SENDS_PER_SECOND: every message is the one fuzzing user's;
#   GATEWAY_REFRESHES_PER_MINUTE: many refreshes of the same logins;
#   GATEWAY_MAX_STREAMS_PER_USER: each SSE request answered 200 is a live stream, which the Gateway
#     notices closed only at its next write (a keep-alive comment every 15 s).
# JWT_ACCESS_TTL (an hour) outlives any run, so no request fails only because the token expired.
SECRET="fuzz-secret-$(random_hex 16)"
EXTERNAL_ISSUER="https://backend.api-fuzz.invalid"; EXTERNAL_SECRET="fuzz-external-$(random_hex 16)"
start_gateway() {
  env -i PATH="$PATH" HOME="${HOME:-/}" ENV=development \
    ACCESS_SECRET="$SECRET" REFRESH_SECRET="$SECRET-refresh" JWT_ACCESS_TTL=3600 \
    VALKEY_URL="redis://:$REDIS_PASSWORD@127.0.0.1:$REDIS_PORT/0" \
    TINODE_GRPC_ADDR="127.0.0.1:$DOUBLE_PORT" TINODE_TOPIC_ID="$ROOM" \
    GATEWAY_HTTP_ADDR="127.0.0.1:$HTTP_PORT" GATEWAY_METRICS_ADDR="127.0.0.1:$METRICS_PORT" \
    GATEWAY_EMAIL_VERIFICATION=off EXTERNAL_JWT_ISSUER="$EXTERNAL_ISSUER" \
    EXTERNAL_JWT_KEYS="[{\"kid\":\"fuzz\",\"alg\":\"HS256\",\"secret\":\"$EXTERNAL_SECRET\"}]" \
    GATEWAY_MAX_REPLAY=2 \
    GATEWAY_AUTH_ATTEMPTS_PER_MINUTE=1000000 GATEWAY_LOGIN_ATTEMPTS_PER_ACCOUNT_PER_HOUR=1000000 \
    GATEWAY_VERIFY_ATTEMPTS_PER_HOUR=1000000 GATEWAY_VERIFY_RESENDS_PER_HOUR=1000000 \
    GATEWAY_SEND_BURST=100000 GATEWAY_SENDS_PER_SECOND=10000 GATEWAY_REFRESHES_PER_MINUTE=100000 \
    GATEWAY_MAX_STREAMS_PER_USER=1000 LOG_LEVEL=warning \
    "$BIN_DIR/Gateway" serve 2>"$DIR/gateway.log" &
  GATEWAY_PID=$!
}
# Ready: /readyz answers 200 once the token store answers and the chat room is known.
for attempt in 1 2 3; do
  start_gateway
  BASE="http://127.0.0.1:$HTTP_PORT"
  for _ in $(seq 1 300); do
    curl -fs "$BASE/readyz" >/dev/null && break
    kill -0 "$GATEWAY_PID" 2>/dev/null || break
    sleep 0.1
  done
  curl -fs "$BASE/readyz" >/dev/null && break
  if ((attempt < 3)) && port_taken "$DIR/gateway.log"; then
    wait "$GATEWAY_PID" 2>/dev/null || true
    read -r HTTP_PORT METRICS_PORT _ < <(free_ports)
    continue
  fi
  log "the Gateway is not ready:"; tail -n 20 "$DIR/gateway.log" >&2; exit 1
done

# --- Users, messages, tokens -------------------------------------------------------------------------
# post PATH JSON [TOKEN]: the Gateway's answer to a POST of JSON (a 2xx, else the run stops).
post() {
  local auth=()
  [[ -n "${3:-}" ]] && auth=(-H "Authorization: Bearer $3")
  curl -fsS -X POST -H 'Content-Type: application/json' "${auth[@]}" --data "$2" "$BASE$1" || {
    log "POST $1 failed:"; tail -n 20 "$DIR/gateway.log" >&2; return 1; }
}
# field NAME: that field of the JSON object on standard input.
field() { "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
# register NAME: a new account through the API; sets EMAIL, PASSWORD and ANSWER (the token pair).
register() {
  EMAIL="$1-$(random_hex 4)@example.com"
  PASSWORD="fuzz-password-$(random_hex 8)"
  ANSWER="$(post /v1/auth/register "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\",\"name\":\"$1\"}")"
}
# Three users for the bearer token, because two operations end logins: logOut ends the login whose
# token it is given, logOutEverywhere every login of its user. With the fuzzing user's token they
# would turn every request after their first 204 into a 401 (documented, so the checks would pass
# while nothing past the token check was tested any more). So each gets a user of its own (the
# per-operation headers below win over -H); after its first 204 it goes on with 401s, which is
# what it should answer then. All run in the one schemathesis run: no second start.
register fuzzer; FUZZ_TOKEN="$(field access_token <<<"$ANSWER")"
register logout; LOGOUT_TOKEN="$(field access_token <<<"$ANSWER")"
register logoutall; LOGOUT_ALL_TOKEN="$(field access_token <<<"$ANSWER")"
# History and streams have something to show from the first request on (text and Drafty content).
post /v1/messages '{"text":"api-fuzz: first"}' "$FUZZ_TOKEN" >/dev/null
post /v1/messages '{"content":{"txt":"bold","fmt":[{"tp":"ST","at":0,"len":4}]}}' "$FUZZ_TOKEN" >/dev/null
post /v1/messages '{"text":"api-fuzz: third"}' "$FUZZ_TOKEN" >/dev/null
# Generated credentials and tokens are refused before they reach anything interesting, so a few
# working ones are offered to the generator (dictionaries, picked for about half of the examples):
# * logIn: the address and password of a user of its own (each login is a new login of that user,
#   and a user keeps GATEWAY_MAX_LOGINS_PER_USER: the fuzzing user's token must not be the oldest
#   login that ends);
# * refresh: three refresh tokens (three logins) of another user of its own: the first use of each
#   answers a new pair, a retry within GATEWAY_REFRESH_RETRY_SECONDS the same pair, a later reuse
#   401 and the end of every login of that user, which is why it is not the fuzzing user;
# * exchangeExternalToken: a JWT with the configured issuer, signed with its key, so the exchange
#   goes past the issuer check to Tinode (the double refuses the `rest` scheme without AuthPlugin:
#   401 invalid_token; the 200 path needs AuthPlugin, which the Swift tests cover).
register login; LOGIN_EMAIL="$EMAIL"; LOGIN_PASSWORD="$PASSWORD"
register refresher; REFRESH_TOKENS=("$(field refresh_token <<<"$ANSWER")")
for _ in 1 2; do
  REFRESH_TOKENS+=("$(post /v1/auth/login "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" | field refresh_token)")
done
EXTERNAL_TOKEN="$("$PYTHON" - "$EXTERNAL_ISSUER" "$EXTERNAL_SECRET" <<'PY'
import base64, hashlib, hmac, json, sys, time
issuer, secret = sys.argv[1], sys.argv[2]
part = lambda value: base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()
now = int(time.time())
head = part({"alg": "HS256", "typ": "JWT", "kid": "fuzz"}) + "." + part(
    {"iss": issuer, "sub": "api-fuzz", "email": "external@example.com", "email_verified": True, "iat": now, "exp": now + 3600})
print(head + "." + base64.urlsafe_b64encode(hmac.new(secret.encode(), head.encode(), hashlib.sha256).digest()).rstrip(b"=").decode())
PY
)"
toml_list() { local item out=""; for item in "$@"; do out+="${out:+, }\"$item\""; done; printf '[%s]' "$out"; }

# --- Schemathesis ----------------------------------------------------------------------------------------
# The configuration file holds what the CLI cannot say per operation:
# * the dictionaries above;
# * the two logout operations use their own users' tokens (above);
# * messageStream is Server-Sent Events that never end: schemathesis reads an event stream until
#   max-stream-events events or request-timeout seconds, and checks the events read by then.
#   A resumed stream gives its three events (reset and two messages) at once; a stream that starts
#   live waits out the timeout, 1 s, in a quiet room. Its only input is one integer header, so
#   STREAM_EXAMPLES examples of it, not MAX_EXAMPLES, keep the time it takes bounded;
# * GET /v1/users/{user_id} answers 501 directory_unavailable, as documented, without MONGO_URL,
#   and no MongoDB server can run here (scripts/test, 4b): that 5xx is expected of that operation
#   only; any other 5xx of it, or a 501 anywhere else, fails the run.
cat >"$DIR/schemathesis.toml" <<TOML
[dictionaries]
login-email = { values = $(toml_list "$LOGIN_EMAIL") }
login-password = { values = $(toml_list "$LOGIN_PASSWORD") }
refresh-token = { values = $(toml_list "${REFRESH_TOKENS[@]}") }
external-token = { values = $(toml_list "$EXTERNAL_TOKEN") }

[[operations]]
include-operation-id = "logOut"
headers = { Authorization = "Bearer $LOGOUT_TOKEN" }

[[operations]]
include-operation-id = "logOutEverywhere"
headers = { Authorization = "Bearer $LOGOUT_ALL_TOKEN" }

[[operations]]
include-operation-id = "logIn"
parameters = { "body.email" = { dictionary = "login-email", probability = 0.5 }, "body.password" = { dictionary = "login-password", probability = 0.5 } }

[[operations]]
include-operation-id = "refresh"
parameters = { "body.refresh_token" = { dictionary = "refresh-token", probability = 0.5 } }

[[operations]]
include-operation-id = "exchangeExternalToken"
parameters = { "body.token" = { dictionary = "external-token", probability = 0.5 } }

[[operations]]
include-operation-id = "messageStream"
request-timeout = 1
max-stream-events = 3
generation.max-examples = $STREAM_EXAMPLES

[[operations]]
include-operation-id = "user"
checks.not_a_server_error.expected-statuses = ["2xx", "3xx", "4xx", "501"]
TOML

CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
log "schemathesis $SCHEMATHESIS_VERSION against the Gateway at $BASE (seed $SEED, $MAX_EXAMPLES examples per operation)"
# * run from the temporary directory, so that nothing (reports, caches) is written into the tree;
# * --generation-database none: no examples kept between runs, a run depends only on its seed;
# * --phases examples,coverage,fuzzing: the spec declares no links, so no stateful phase (and no
#   examples either yet: that phase costs nothing until the spec has some);
# * --workers 1: with two, schemathesis 4.32.5 cut one operation's fuzzing short in every trial
#   (9 of 200 examples; logIn or exchangeExternalToken, whichever ran beside another), and the order
#   of requests, so the server's state, varied; one worker runs all of each, always in the same
#   order, so a seed repeats the same requests (but for the users' addresses and tokens made here),
#   for about 10 s more (the Gateway, the double and redis-server use the second core meanwhile);
# * --request-timeout 10: the Gateway waits up to TINODE_REQUEST_TIMEOUT_MS (5 s) for Tinode; a
#   request unanswered after twice that is a hang, reported as a failure.
status=0
(cd "$DIR" && "$VENV/bin/schemathesis" --config-file "$DIR/schemathesis.toml" --no-color run "$ROOT/openapi/openapi.yaml" \
  --url "$BASE" -H "Authorization: Bearer $FUZZ_TOKEN" \
  --checks "$CHECKS" --phases examples,coverage,fuzzing \
  --seed "$SEED" --max-examples "$MAX_EXAMPLES" --generation-database none \
  --workers 1 --request-timeout 10 "${EXTRA_ARGS[@]}") || status=$?

if ! kill -0 "$GATEWAY_PID" 2>/dev/null; then
  log "the Gateway died during the run:"; tail -n 40 "$DIR/gateway.log" >&2; status=1
fi
# Not a check, but worth seeing: what the Gateway logged at error level or above, once per kind.
errors="$(grep -E '^[^ ]+ (error|critical) ' "$DIR/gateway.log" | cut -d' ' -f2- | sort | uniq -c | sort -rn || true)"
[[ -z "$errors" ]] || { log "the Gateway logged (count, line):"; printf '%s\n' "$errors" >&2; }
((status)) && log "FAILED: schemathesis exit $status (each failure above with a curl command to reproduce it)"
exit "$status"
