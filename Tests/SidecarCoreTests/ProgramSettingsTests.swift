import Foundation
import Testing

@testable import SidecarCore

/// Each program reads only its own settings (the registry's `readBy`), and logs every one of them
/// at start-up, from the same registry.
@Suite("Settings per program")
struct ProgramSettingsTests {
    static let strong = String(repeating: "s", count: 40)

    static func load(_ environment: [String: String], program: Programs) async throws -> SidecarConfiguration {
        var environment = environment
        environment[ConfigurationSources.secretsDirectoryVariable] = "/nonexistent-sidecar-secrets"
        return try SidecarConfiguration(reader: try await ConfigurationSources.makeReader(environment: environment), program: program)
    }

    @Test("a Gateway setting that cannot be used stops the Gateway, never AuthPlugin; and the other way round")
    func otherProgramsSettingsAreNotRead() async throws {
        let gatewayOnly = ["MONGO_URL": "postgres://not-mongo", "GATEWAY_MAX_REPLAY": "-5", "TRUSTED_PROXIES": "not a cidr"]
        for (name, value) in gatewayOnly {
            _ = try await Self.load([name: value], program: .authPlugin)
            await #expect(throws: ConfigurationError.self, "\(name) stops the Gateway") {
                _ = try await Self.load([name: value], program: .gateway)
            }
        }
        let authPluginOnly = ["PLUGIN_WEBHOOK_URLS": "ftp://x", "AUTHPLUGIN_GRPC_MAX_STREAMS": "0", "REST_AUTH_TIMEOUT_MS": "1"]
        for (name, value) in authPluginOnly {
            _ = try await Self.load([name: value], program: .gateway)
            await #expect(throws: ConfigurationError.self, "\(name) stops AuthPlugin") {
                _ = try await Self.load([name: value], program: .authPlugin)
            }
        }
        // A shared setting stops both.
        for program in [Programs.gateway, .authPlugin] {
            await #expect(throws: ConfigurationError.self) { _ = try await Self.load(["JWT_LEEWAY": "nope"], program: program) }
        }
    }

    @Test("production: only the Gateway needs REFRESH_SECRET")
    func refreshSecretOnlyForTheGateway() async throws {
        let production = ["ENV": "production", "ACCESS_SECRET": Self.strong, "VALKEY_URL": "redis://valkey:6379/0"]
        let authPlugin = try await Self.load(production, program: .authPlugin)
        #expect(authPlugin.environment == .production)
        await #expect(throws: ConfigurationError.self) { _ = try await Self.load(production, program: .gateway) }
        var both = production
        both["REFRESH_SECRET"] = Self.strong + "r"
        _ = try await Self.load(both, program: .gateway)
    }

    @Test("the start-up report lists exactly the program's settings, with no secret in it")
    func reportFromTheRegistry() async throws {
        let secrets = [
            "ACCESS_SECRET": "access-secret-value-0123456789abcdef", "REFRESH_SECRET": "refresh-secret-value-0123456789abcdef",
            "REDIS_PASS": "redis-password-value", "TINODE_SERVICE_PASSWORD": "service-password-value",
            "PLUGIN_WEBHOOK_SECRET": "webhook-secret-value-0123456789abcdef",
        ]
        var environment = secrets
        environment["VALKEY_URL"] = "redis://user:valkey-url-password@valkey:6379/0"
        environment["MONGO_URL"] = "mongodb://reader:mongo-url-password@m1,m2/?replicaSet=rs0"
        environment["PLUGIN_WEBHOOK_URLS"] = "https://hooks.example/in?token=webhook-query-token"
        environment["TINODE_SERVICE_LOGIN"] = "service"
        // A secret that holds a URL somewhere is still a secret: redacted whole, never shown as a URL.
        environment["EXTERNAL_JWT_KEYS"] =
            #"[{"kid":"b1","alg":"HS256","secret":"external-key-secret-0123456789abcdef","x":"https://keys.example/jwks"}]"#
        for program in [Programs.gateway, .authPlugin] {
            let report = try await Self.load(environment, program: program).loggableSummary
            let expected = Settings.all.filter { !$0.readBy.isDisjoint(with: program) }.map(\.name)
            #expect(report.map(\.name) == expected, "every setting the program reads, none other")
            let text = report.map { "\($0.name)=\($0.value)" }.joined(separator: "\n")
            for hidden in Array(secrets.values) + [
                "valkey-url-password", "mongo-url-password", "webhook-query-token", "external-key-secret-0123456789abcdef",
            ] {
                #expect(!text.contains(hidden), "\(program): \(hidden) leaked")
            }
            #expect(text.contains("VALKEY_URL=redis://user:***@valkey:6379/0"))
            #expect(text.contains("ACCESS_SECRET=<set, redacted>"))
            #expect(text.contains("EXTERNAL_JWT_KEYS=<set, redacted>"))
            #expect(text.contains("JWT_LEEWAY=5"), "an unset setting shows its default")
        }
        let gateway = try await Self.load(environment, program: .gateway).loggableSummary
        #expect(gateway.contains { $0.name == "MONGO_URL" && $0.value == "mongodb://reader:***@m1,m2/?***" }, "\(gateway)")
        #expect(!gateway.contains { $0.name.hasPrefix("PLUGIN_") })
        let authPlugin = try await Self.load(environment, program: .authPlugin).loggableSummary
        #expect(authPlugin.contains { $0.name == "PLUGIN_WEBHOOK_URLS" && $0.value == "https://hooks.example/in?***" })
        #expect(!authPlugin.contains { $0.name.hasPrefix("MONGO_") || $0.name.hasPrefix("TINODE_SERVICE") })
    }
}
