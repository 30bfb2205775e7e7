import Testing

@testable import SidecarCore

/// `TRUSTED_PROXIES` and `GATEWAY_LOGIN_ATTEMPTS_PER_ACCOUNT_PER_HOUR` as read at start-up.
@Suite("Configuration: trusted proxies and the per-account budget")
struct TrustedProxiesConfigurationTests {
    static func load(_ environment: [String: String]) async throws -> SidecarConfiguration {
        var environment = environment
        environment[ConfigurationSources.secretsDirectoryVariable] = "/nonexistent-sidecar-secrets"
        return try SidecarConfiguration(reader: try await ConfigurationSources.makeReader(environment: environment))
    }

    static func summary(_ configuration: SidecarConfiguration, _ setting: Setting) -> String? {
        configuration.loggableSummary.first { $0.name == setting.name }?.value
    }

    @Test("defaults: no proxy trusted, 30 password tries per account an hour; both in the start-up summary")
    func defaults() async throws {
        let configuration = try await Self.load([:])
        #expect(configuration.trustedProxies.blocks.isEmpty)
        #expect(configuration.gatewayLimits.loginAttemptsPerAccountPerHour == 30)
        #expect(Self.summary(configuration, Settings.trustedProxies) == "<unset>", "no proxy trusted")
        #expect(Self.summary(configuration, Settings.gatewayLoginAttemptsPerAccount) == "30")
    }

    @Test("a CIDR list is read as given and shown in the summary")
    func list() async throws {
        let configuration = try await Self.load([
            "TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.10", "GATEWAY_LOGIN_ATTEMPTS_PER_ACCOUNT_PER_HOUR": "12",
        ])
        #expect(configuration.trustedProxies.allows("10.1.2.3") && configuration.trustedProxies.allows("192.0.2.10"))
        #expect(!configuration.trustedProxies.allows("192.0.2.11"))
        #expect(Self.summary(configuration, Settings.trustedProxies) == "10.0.0.0/8, 192.0.2.10")
        #expect(configuration.gatewayLimits.loginAttemptsPerAccountPerHour == 12)
        #expect(!configuration.warnings.contains { $0.contains("TRUSTED_PROXIES") })
    }

    @Test("a block that is not CIDR stops the start, naming the setting", arguments: ["10.0.0.0/33", "proxy.internal", "10.0.0.0/8,,x"])
    func refused(_ value: String) async throws {
        let error = try await #require(throws: ConfigurationError.self) { try await Self.load(["TRUSTED_PROXIES": value]) }
        #expect(error.setting == "TRUSTED_PROXIES")
    }

    @Test("trusting every address is allowed but warned about: any client could then pick its bucket")
    func everyAddressWarned() async throws {
        let configuration = try await Self.load(["TRUSTED_PROXIES": "0.0.0.0/0"])
        #expect(configuration.warnings.contains { $0.contains("TRUSTED_PROXIES trusts every address") })
    }

    @Test("the per-account budget must be a positive whole number", arguments: ["0", "-1", "many"])
    func badAccountBudget(_ value: String) async throws {
        let error = try await #require(throws: ConfigurationError.self) {
            try await Self.load(["GATEWAY_LOGIN_ATTEMPTS_PER_ACCOUNT_PER_HOUR": value])
        }
        #expect(error.setting == "GATEWAY_LOGIN_ATTEMPTS_PER_ACCOUNT_PER_HOUR")
    }
}
