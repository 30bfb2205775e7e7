# syntax=docker/dockerfile:1
# AuthPlugin and Gateway, built once and shipped as two small images:
#
#   docker build --target authplugin -t tinode-sidecar/authplugin .
#   docker build --target gateway    -t tinode-sidecar/gateway .
#
# The build stage uses the official Swift image; the runtime stages are Debian slim with the Swift
# standard library and Foundation linked statically (--static-swift-stdlib), so only libhiredis,
# libmongoc/libbson and a few system packages are installed there. Builder and runtime are both
# Debian 12 (bookworm), so the libraries the binaries were linked against (libhiredis0.14,
# libmongoc-1.0-0, libbson-1.0-0) are the ones installed at run time.

ARG SWIFT_IMAGE=swift:6.3-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

# ---- build ------------------------------------------------------------------------------------
FROM ${SWIFT_IMAGE} AS build
# libhiredis-dev, libmongoc-dev and pkg-config: Sources/CHiredis and Sources/CMongoc find their
# libraries through pkg-config.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libhiredis-dev libmongoc-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Resolve dependencies in their own layer, so that a source change does not fetch them again.
# Package.resolved is not committed; the versions come from Package.swift's ranges.
COPY Package.swift ./
RUN swift package resolve
COPY Protos ./Protos
COPY Sources ./Sources
COPY Tests ./Tests
COPY bench ./bench
# Tests/ and bench/ are copied because Package.swift declares their targets; only the two
# executables are built.
RUN swift build -c release --static-swift-stdlib --product AuthPlugin \
    && swift build -c release --static-swift-stdlib --product Gateway \
    && mkdir -p /out \
    && cp "$(swift build -c release --show-bin-path)/AuthPlugin" "$(swift build -c release --show-bin-path)/Gateway" /out/

# ---- runtime base -----------------------------------------------------------------------------
FROM ${RUNTIME_IMAGE} AS runtime
# libhiredis0.14: the Valkey client. libmongoc-1.0-0 and libbson-1.0-0: the Gateway's MongoDB
# reader (AuthPlugin links them too, through the shared package, but never connects). ca-certificates
# and tzdata: what a statically linked Foundation still reads from the system. curl: the health
# checks below.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libhiredis0.14 libmongoc-1.0-0 libbson-1.0-0 ca-certificates tzdata curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 sidecar \
    && useradd --system --uid 10001 --gid sidecar --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin sidecar
# Inside a container the programs must listen on every interface (their defaults are loopback).
ENV AUTHPLUGIN_HTTP_ADDR=0.0.0.0:5000 \
    AUTHPLUGIN_GRPC_ADDR=0.0.0.0:40051 \
    GATEWAY_HTTP_ADDR=0.0.0.0:8080
# Numeric, so that Kubernetes can check runAsNonRoot without reading /etc/passwd.
USER 10001:10001

# ---- AuthPlugin -------------------------------------------------------------------------------
FROM runtime AS authplugin
COPY --from=build /out/AuthPlugin /usr/local/bin/AuthPlugin
# 5000: REST-auth, /healthz, /metrics. 40051: pbx.Plugin gRPC.
EXPOSE 5000 40051
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["/bin/sh", "-c", "curl -fsS -o /dev/null \"http://127.0.0.1:${AUTHPLUGIN_HTTP_ADDR##*:}/healthz\""]
ENTRYPOINT ["/usr/local/bin/AuthPlugin"]
CMD ["serve"]

# ---- Gateway ----------------------------------------------------------------------------------
FROM runtime AS gateway
COPY --from=build /out/Gateway /usr/local/bin/Gateway
EXPOSE 8080
# /healthz (alive), not /readyz: a Gateway waiting for Tinode is alive and must not be restarted.
# With SSL=true the Gateway speaks HTTPS on the same port; -k because the check runs on loopback,
# where the certificate's name never matches.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["/bin/sh", "-c", "if [ \"${SSL:-false}\" = true ]; then s=https; else s=http; fi; curl -fsSk -o /dev/null \"$s://127.0.0.1:${GATEWAY_HTTP_ADDR##*:}/healthz\""]
ENTRYPOINT ["/usr/local/bin/Gateway"]
CMD ["serve"]
