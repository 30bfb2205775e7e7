// swift-tools-version: 6.1
// libFuzzer targets for the sidecar's parsers of hostile input. A package of its own, because it is
// built with `--sanitize=fuzzer --sanitize=address` (libFuzzer provides `main`); see fuzz/README.md
// and fuzz/run.sh.
import PackageDescription

let package = Package(
    name: "tinode-sidecar-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "tinode-sidecar", path: ".."),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.1.0"),
    ],
    targets: [
        // libFuzzer's driver, called from each target's main (SwiftPM gives executables a main).
        .target(name: "FuzzSupport"),
        .executableTarget(
            name: "FuzzLoginNames",
            dependencies: ["FuzzSupport", .product(name: "SidecarCore", package: "tinode-sidecar")]
        ),
        .executableTarget(
            name: "FuzzRESTAuthDecoder",
            dependencies: ["FuzzSupport", .product(name: "AuthPluginKit", package: "tinode-sidecar")]
        ),
        .executableTarget(
            name: "FuzzJWTParser",
            dependencies: [
                "FuzzSupport",
                .product(name: "SidecarCore", package: "tinode-sidecar"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
    ]
)
