#!/usr/bin/env bash
# Regenerates the Swift code in Sources/TinodeProto from Protos/pbx/model.proto.
#
# The two protoc plugins are built from this package's own pinned dependencies
# (swift-protobuf and grpc-swift-protobuf, see Package.resolved) so the generated
# code always matches the runtime libraries it is compiled against.
#
# Needs: protoc (Debian: protobuf-compiler) and a Swift toolchain.
# Usage: Protos/generate.sh            (any working directory)
set -euo pipefail

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
PACKAGE_DIR="$(cd -- "${SCRIPT_DIR}/.." && pwd -P)"
PROTO_ROOT="${SCRIPT_DIR}"
PROTO_FILE="pbx/model.proto"            # relative to PROTO_ROOT: keeps the descriptor name pbx/model.proto
OUT_DIR="${PACKAGE_DIR}/Sources/TinodeProto"

SWIFT_PLUGIN_PRODUCT="protoc-gen-swift"        # from swift-protobuf
GRPC_PLUGIN_PRODUCT="protoc-gen-grpc-swift-2"  # from grpc-swift-protobuf

log() { printf '[generate.sh] %s\n' "$*"; }

command -v protoc >/dev/null 2>&1 || { echo "protoc not found (Debian: apt-get install protobuf-compiler)" >&2; exit 1; }
command -v swift >/dev/null 2>&1 || { echo "swift not found" >&2; exit 1; }

log "package:  ${PACKAGE_DIR}"
log "protoc:   $(command -v protoc) ($(protoc --version))"

cd "${PACKAGE_DIR}"

# SwiftPM refuses to load the package while a library product's target has no
# sources, which is the case on the very first generation (or after a manual
# clean-out). Bridge that with a throw-away file that is removed again on exit.
mkdir -p "${OUT_DIR}"
BOOTSTRAP="${OUT_DIR}/_generate_bootstrap.swift"
if ! compgen -G "${OUT_DIR}/*.swift" >/dev/null; then
  log "Sources/TinodeProto is empty: adding temporary ${BOOTSTRAP#"${PACKAGE_DIR}/"} so the package loads"
  printf '// Temporary file created by Protos/generate.sh; deleted when it finishes.\n' >"${BOOTSTRAP}"
fi
trap 'rm -f -- "${BOOTSTRAP}"' EXIT

for product in "${SWIFT_PLUGIN_PRODUCT}" "${GRPC_PLUGIN_PRODUCT}"; do
  log "building plugin: swift build -c release --product ${product}"
  swift build -c release --product "${product}"
done
BIN_DIR="$(swift build -c release --show-bin-path)"
SWIFT_PLUGIN="${BIN_DIR}/${SWIFT_PLUGIN_PRODUCT}"
GRPC_PLUGIN="${BIN_DIR}/${GRPC_PLUGIN_PRODUCT}"
for plugin in "${SWIFT_PLUGIN}" "${GRPC_PLUGIN}"; do
  [[ -x "${plugin}" ]] || { echo "plugin not found after build: ${plugin}" >&2; exit 1; }
  log "plugin:   ${plugin}"
done

shopt -s nullglob
old=("${OUT_DIR}"/*.pb.swift "${OUT_DIR}"/*.grpc.swift)
shopt -u nullglob
if ((${#old[@]})); then
  log "removing old generated files: ${old[*]#"${PACKAGE_DIR}/"}"
  rm -f -- "${old[@]}"
fi

# DropPath: write model.pb.swift / model.grpc.swift directly into OUT_DIR.
SWIFT_OPTS="Visibility=Public,FileNaming=DropPath"
GRPC_OPTS="Visibility=Public,Client=true,Server=true,FileNaming=DropPath"

set -x
protoc \
  --proto_path="${PROTO_ROOT}" \
  --plugin="protoc-gen-swift=${SWIFT_PLUGIN}" \
  --plugin="protoc-gen-grpc-swift-2=${GRPC_PLUGIN}" \
  --swift_out="${OUT_DIR}" \
  --swift_opt="${SWIFT_OPTS}" \
  --grpc-swift-2_out="${OUT_DIR}" \
  --grpc-swift-2_opt="${GRPC_OPTS}" \
  "${PROTO_ROOT}/${PROTO_FILE}"
{ set +x; } 2>/dev/null

log "generated:"
for f in "${OUT_DIR}"/*.pb.swift "${OUT_DIR}"/*.grpc.swift; do
  log "  ${f#"${PACKAGE_DIR}/"} ($(wc -l <"${f}") lines)"
done
log "done. Never edit these files by hand: change Protos/pbx/model.proto and rerun this script."
