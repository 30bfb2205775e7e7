import ArgumentParser
import GatewayKit
import SidecarServer

/// `Gateway [serve]` runs the HTTP API.
@main
struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "Gateway",
        abstract: "HTTP API over Tinode: register, log in, send and read messages.",
        subcommands: [Serve.self],
        defaultSubcommand: Serve.self
    )
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Run the server (configuration from the environment; see the README).")

    func run() async throws {
        try await ProgramRunner.run(program: "Gateway", reads: .gateway) { configuration, logger in
            try await buildGatewayApplication(configuration: configuration, logger: logger)
        }
    }
}
