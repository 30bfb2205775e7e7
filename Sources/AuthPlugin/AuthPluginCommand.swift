import ArgumentParser
import AuthPluginKit
import Foundation
import SidecarCore
import SidecarServer

/// `AuthPlugin [serve]` runs the server; `AuthPlugin login-name <email>...` prints login names.
@main
struct AuthPluginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "AuthPlugin",
        abstract: "Tinode's REST-auth identity provider and pbx.Plugin service.",
        subcommands: [Serve.self, LoginNameCommand.self],
        defaultSubcommand: Serve.self
    )
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Run the server (configuration from the environment; see the README).")

    func run() async throws {
        try await ProgramRunner.run(program: "AuthPlugin") { configuration, logger in
            try await buildAuthPluginApplication(configuration: configuration, logger: logger)
        }
    }
}

struct LoginNameCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login-name",
        abstract: "Print the Tinode login name of each e-mail address, one per line.")

    @Option(name: .long, help: "Longest name to generate (13 to 32).")
    var maxLength = LoginNameMapper.defaultMaximumLength

    @Argument(help: "E-mail addresses.")
    var addresses: [String]

    func run() throws {
        let mapper: LoginNameMapper
        do {
            mapper = try LoginNameMapper(maximumLength: maxLength)
        } catch {
            throw ValidationError("\(error)")
        }
        var failed = false
        for address in addresses {
            do {
                print(try mapper.loginName(for: address))
            } catch {
                failed = true
                FileHandle.standardError.write(Data("AuthPlugin: invalid address \(address.debugDescription): \(error)\n".utf8))
            }
        }
        if failed { throw ExitCode.failure }
    }
}
