// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "tinode-sidecar",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "AuthPlugin", targets: ["AuthPlugin"]),
        .executable(name: "Gateway", targets: ["Gateway"]),
        .library(name: "SidecarCore", targets: ["SidecarCore"]),
        // For fuzz/ (a package of its own that builds with libFuzzer): the REST-auth decoder.
        .library(name: "AuthPluginKit", targets: ["AuthPluginKit"]),
        .library(name: "TinodeProto", targets: ["TinodeProto"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-atomics", from: "1.2.0"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.1.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.34.1"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.36.0"),
        .package(url: "https://github.com/apple/swift-openapi-runtime", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.28.0"),
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.0.0"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.0.0"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.0"),
        .package(url: "https://github.com/hummingbird-project/swift-openapi-hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.1.0"),
    ],
    targets: [
        // libhiredis through pkg-config (Debian: libhiredis-dev).
        .systemLibrary(
            name: "CHiredis",
            pkgConfig: "hiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),
        // Async Valkey/Redis client over hiredis: pool, AUTH, timeouts, reconnect.
        .target(
            name: "Valkey",
            dependencies: [
                "CHiredis",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // libmongoc and libbson through pkg-config (Debian: libmongoc-dev).
        .systemLibrary(
            name: "CMongoc",
            pkgConfig: "libmongoc-1.0",
            providers: [.apt(["libmongoc-dev"])]
        ),
        // Read-only reader of Tinode's MongoDB (history, user directory) over libmongoc, off the event loops.
        .target(
            name: "MongoReader",
            dependencies: [
                "CMongoc",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // Generated from Protos/ by Protos/generate.sh. Never edited by hand.
        .target(
            name: "TinodeProto",
            dependencies: [
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
            ]
        ),
        // gRPC over HTTP/2 as both of our own links speak it: message framing, status headers, and
        // the control-frame budget that lets a grpc-go peer ping once per answer (plugin port, and the
        // Gateway's link to Tinode).
        .target(
            name: "GRPCOverHTTP2",
            dependencies: [
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
            ]
        ),
        .target(
            name: "SidecarCore",
            dependencies: [
                "Valkey",
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Shared HTTP/process plumbing of the two executables (health, metrics, start-up).
        .target(
            name: "SidecarServer",
            dependencies: [
                "SidecarCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // AuthPlugin's servers (REST-auth, pbx.Plugin); the executable only parses its command line.
        .target(
            name: "AuthPluginKit",
            dependencies: [
                "GRPCOverHTTP2",
                "SidecarCore",
                "SidecarServer",
                "TinodeProto",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Atomics", package: "swift-atomics"),
            ]
        ),
        .executableTarget(
            name: "AuthPlugin",
            dependencies: [
                "AuthPluginKit",
                "SidecarCore",
                "SidecarServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The Gateway's HTTP contract, generated from openapi/openapi.yaml by openapi/generate.sh
        // (committed; never edited by hand, never generated by a build).
        .target(
            name: "GatewayContract",
            dependencies: [.product(name: "OpenAPIRuntime", package: "swift-openapi-runtime")]
        ),
        // The Gateway's Tinode side (per-user MessageLoop sessions, their pool, the chat room) and, later,
        // its HTTP API; the executable only parses its command line.
        .target(
            name: "GatewayKit",
            dependencies: [
                "GatewayContract",
                "GRPCOverHTTP2",
                "MongoReader",
                .product(name: "OpenAPIHummingbird", package: "swift-openapi-hummingbird"),
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                "SidecarCore",
                "SidecarServer",
                "TinodeProto",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        .executableTarget(
            name: "Gateway",
            dependencies: [
                "GatewayKit",
                "SidecarCore",
                "SidecarServer",
                "TinodeProto",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
            ]
        ),
        // bench/core: JWT verification and Valkey round trips beside their baselines.
        .executableTarget(
            name: "SidecarBench",
            dependencies: [
                "SidecarCore",
                "Valkey",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ],
            path: "bench/SidecarBench"
        ),
        // bench/gateway-sessions.sh: the session layer against the Tinode double (in its own process).
        .executableTarget(
            name: "GatewayBench",
            dependencies: [
                "GatewayKit",
                "TinodeDouble",
                "TinodeProto",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "bench/GatewayBench"
        ),
        // bench/gateway-mongo.sh: a history page through MongoDB beside the same page through Tinode's protocol.
        .executableTarget(
            name: "GatewayMongoBench",
            dependencies: [
                "GatewayKit",
                "MongoReader",
                "MongoTestSupport",
                "TinodeDouble",
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "bench/GatewayMongoBench"
        ),
        // bench/authplugin-plugin.sh: FireHose beside an empty unary RPC of the same gRPC server.
        .executableTarget(
            name: "PluginBench",
            dependencies: [
                "AuthPluginKit",
                "GRPCOverHTTP2",
                "SidecarCore",
                "SidecarServer",
                "TinodeProto",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "bench/PluginBench"
        ),
        // Shared by the test targets: private redis-server processes, free ports, client scopes.
        .target(
            name: "TestSupport",
            dependencies: [
                "Valkey",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/TestSupport"
        ),
        // A stand-in for Tinode's pbx.Node service over a real gRPC socket (Tinode cannot be installed
        // here). Behaves as tinode-protocol.md sections 3 and 8 say; checked against shared/fixtures.
        .target(
            name: "TinodeDouble",
            dependencies: [
                "TinodeProto",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            path: "Tests/TinodeDouble"
        ),
        .testTarget(
            name: "TinodeDoubleTests",
            dependencies: [
                "TinodeDouble",
                "TinodeProto",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        .testTarget(
            name: "GatewayKitTests",
            dependencies: [
                "AuthPluginKit",
                "GatewayContract",
                "GatewayKit",
                "MongoReader",
                "MongoTestSupport",
                "TinodeDouble",
                "TestSupport",
                "SidecarCore",
                "SidecarServer",
                "TinodeProto",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HummingbirdWSTesting", package: "hummingbird-websocket"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // Loads Tinode-shaped documents into a test MongoDB (MONGO_TEST_URL) with libmongoc; tests and
        // bench/gateway-mongo.sh only: the Gateway's reader never writes.
        .target(
            name: "MongoTestSupport",
            dependencies: ["CMongoc", "MongoReader"],
            path: "Tests/MongoTestSupport"
        ),
        // The reader's BSON handling, query documents and visibility rules (the last against MONGO_TEST_URL).
        .testTarget(
            name: "MongoReaderTests",
            dependencies: ["CMongoc", "MongoReader", "MongoTestSupport", "TestSupport"]
        ),
        // The control-frame rule of both HTTP/2 links, without sockets.
        .testTarget(
            name: "GRPCOverHTTP2Tests",
            dependencies: [
                "GRPCOverHTTP2",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "ValkeyTests",
            dependencies: ["Valkey", "TestSupport"]
        ),
        .testTarget(
            name: "SidecarCoreTests",
            dependencies: [
                "TestSupport",
                "SidecarCore",
                "Valkey",
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ]
        ),
        .testTarget(
            name: "TinodeProtoTests",
            dependencies: [
                "TinodeProto",
                "TestSupport",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            exclude: ["pbx_peer.py"]
        ),
        // Starts the built programs as real processes: health, start-up log, clean stop; and the fault
        // tests (Valkey and Tinode restarts, broken streams, shutdown) under load.
        .testTarget(
            name: "ProgramTests",
            dependencies: [
                "AuthPlugin", "Gateway", "TestSupport", "TinodeDouble",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "AuthPluginKitTests",
            dependencies: [
                "AuthPluginKit",
                "GRPCOverHTTP2",
                "TestSupport",
                "SidecarCore",
                "SidecarServer",
                "TinodeProto",
                "Valkey",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            exclude: ["PluginService/plugin_peer.py"]
        ),
        .testTarget(
            name: "SidecarServerTests",
            dependencies: [
                "SidecarServer",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
    ]
)
