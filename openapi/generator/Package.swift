// swift-tools-version: 6.0
// Only there to build swift-openapi-generator's command-line tool for generate.sh; nothing here is
// part of the programs, and the main package never depends on the generator.
import PackageDescription

let package = Package(
    name: "openapi-generator-tool",
    dependencies: [.package(url: "https://github.com/apple/swift-openapi-generator", exact: "1.14.3")],
    targets: []
)
