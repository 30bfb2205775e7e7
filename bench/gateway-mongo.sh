#!/usr/bin/env bash
# One 50-message history page through MongoDB (the Gateway's reader: access checks, the page query,
# BSON -> JSON) beside the same page through the protocol path (a logged-in Tinode session's
# `{get what:"data"}` against the Tinode double), same data, same run, alternating. Prints p50 and
# p99 per round and the medians.
#
#   MONGO_TEST_URL=mongodb://host:port/ bench/gateway-mongo.sh [rounds] [requests-per-round]
#
# Without MONGO_TEST_URL it measures nothing and says so: no MongoDB server installs on the
# project's machines. It creates a scratch database sidecar_test_* and drops it at the end.
set -euo pipefail
ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
if [[ -z "${MONGO_TEST_URL:-}" ]]; then
  echo "bench/gateway-mongo.sh: SKIPPED: MONGO_TEST_URL is not set (no MongoDB server here); nothing was measured"
  exit 0
fi
swift build -c release --product GatewayMongoBench >&2
"$(swift build -c release --show-bin-path)/GatewayMongoBench" "${1:-3}" "${2:-200}"
