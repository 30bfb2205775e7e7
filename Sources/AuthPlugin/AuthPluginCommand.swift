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
        try await ProgramRunner.run(program: "AuthPlugin", reads: .authPlugin) { configuration, logger in
            try await buildAuthPluginApplication(configuration: configuration, logger: logger)
        }
    }
}

/// `AuthPlugin login-name`: the mapping the Gateway and the canonical-name policy apply, for operators
/// who need to find or create an account by hand.
struct LoginNameCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login-name",
        abstract: "Print the Tinode login name of each e-mail address, one per line.",
        discussion: """
            The address is trimmed, Unicode-NFKC-normalised and lower-cased. Its canonical name is \
            <local>_<code>_<hash>: the local part (characters other than letters, digits, '.' and '_' \
            become '_', cut to fit), the first two letters or digits of the domain, and the first 8 hex \
            digits of md5 of the normalised address. Example: john@gmail.com -> john_gm_1f9d9a9e.

            32 bits of md5 can be matched offline, so a squatter may hold an address's canonical name. \
            The address then uses its extended name (--extended): the same local part (cut shorter) and \
            code with 64 bits of SHA-256 in 13 base-36 digits, e.g. john_gm_0b1o6odsg9sxf; below \
            a maximum of 18 the 13 digits alone. An extended name never equals a canonical name. The \
            Gateway registers it when Tinode reports the canonical name taken by another address, and \
            tries it at login after the canonical one. The README's "Login names" has the exact rule.
            """)

    @Option(name: .long, help: "Longest name to generate (13 to 32): LOGIN_NAME_MAX_LENGTH.")
    var maxLength = LoginNameMapper.defaultMaximumLength

    @Flag(name: .long, help: "Print the extended name instead of the canonical one.")
    var extended = false

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
                print(extended ? try mapper.extendedLoginName(for: address) : try mapper.loginName(for: address))
            } catch {
                failed = true
                FileHandle.standardError.write(Data("AuthPlugin: invalid address \(address.debugDescription): \(error)\n".utf8))
            }
        }
        if failed { throw ExitCode.failure }
    }
}
