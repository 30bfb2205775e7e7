#!/usr/bin/env bash
# The Gateway's Tinode session layer against the Tinode double, which runs in its own process on
# loopback so that the memory figure is the Gateway side's alone:
#   (a) resident memory per idle session: COUNT users registered, logged in, subscribed to `me` and
#       the room, then left idle; (RSS after - RSS before) / COUNT. Target: at most 40 KiB.
#   (b) `pub` round trips per second with USERS users, each publishing in a loop, through the
#       session layer against USERS raw gRPC clients that only send `pub` and wait for the ack, in
#       the same run against the same double, alternating. Target: ratio at least 0.70.
#
#   bench/gateway-sessions.sh [rounds] [seconds] [users] [idle-sessions (0: skip)]
set -euo pipefail
ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
source bench/require-rates.sh
ROUNDS="${1:-3}"
SECONDS_PER_RUN="${2:-10}"
USERS="${3:-100}"
IDLE="${4:-10000}"

swift build -c release --product GatewayBench >&2
BENCH="$(swift build -c release --show-bin-path)/GatewayBench"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
OUT="$(mktemp)"
"$BENCH" serve-double --port "$PORT" >"$OUT" 2>&1 &
DOUBLE=$!
trap 'kill "$DOUBLE" 2>/dev/null || true; rm -f "$OUT"' EXIT
for _ in $(seq 1 300); do grep -q '^room=' "$OUT" && break; sleep 0.1; done
ROOM="$(sed -n 's/^room=//p' "$OUT")"
SOLO="$(sed -n 's/^solo=//p' "$OUT")"
[[ -n "$ROOM" ]] || { echo "the double did not start" >&2; cat "$OUT" >&2; exit 1; }

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo "# machine: $(nproc) cores, $(uname -m); rounds: $ROUNDS (medians); double on 127.0.0.1:$PORT, room $ROOM"

if ((IDLE > 0)); then
  echo "# (a) $IDLE idle sessions in one process"
  "$BENCH" idle-sessions --port "$PORT" --room "$ROOM" --count "$IDLE" --prefix "idle"
fi

# (b) each user writes to a group of its own, so the figure is what the session layer costs.
# TOPICS="own shared" adds a run with everyone in the shared room: every pub is then fanned out to
# every user, so that run measures the fan-out (the double's and the clients') more than the
# round trip; streams that fall more than 128 messages behind are given up, as Tinode does.
for topics in ${TOPICS:-own}; do
  echo "# (b) pub round trips, $USERS users, ${SECONDS_PER_RUN}s per run, topics: $topics"
  extra=()
  [[ "$topics" == own ]] && extra=(--solo "$SOLO")
  session_rates=()
  raw_rates=()
  for round in $(seq 1 "$ROUNDS"); do
    raw=$("$BENCH" publish-rate --port "$PORT" --room "$ROOM" --users "$USERS" --seconds "$SECONDS_PER_RUN" --mode raw \
      --prefix "raw${topics}${round}u" "${extra[@]}")
    echo "$raw"
    raw_rates+=("$(sed 's/.*rate=//' <<<"$raw")")
    ours=$("$BENCH" publish-rate --port "$PORT" --room "$ROOM" --users "$USERS" --seconds "$SECONDS_PER_RUN" --mode session \
      --prefix "ses${topics}${round}u" "${extra[@]}")
    echo "$ours"
    session_rates+=("$(sed 's/.*rate=//' <<<"$ours")")
  done
  o=$(printf '%s\n' "${session_rates[@]}" | median)
  b=$(printf '%s\n' "${raw_rates[@]}" | median)
  require_rates "pub_round_trips_per_s topics=$topics (raw ${raw_rates[*]}; session ${session_rates[*]})" \
    "${raw_rates[@]}" "${session_rates[@]}"
  awk -v t="$topics" -v o="$o" -v b="$b" 'BEGIN {printf "pub_round_trips_per_s topics=%s session=%.0f raw=%.0f ratio=%.2f\n", t, o, b, o/b}'
done
