import Foundation
import Testing

@testable import SidecarCore

@Suite("Configuration of external JWTs: audience in production, verified-address claim, lifetime")
struct ExternalJWTConfigurationTests {
    /// A production configuration that starts, with an external issuer and no audience.
    static let production = [
        "ENV": "production", "ACCESS_SECRET": String(repeating: "a", count: 32), "REFRESH_SECRET": String(repeating: "r", count: 32),
        "VALKEY_URL": "redis://valkey:6379/0", "EXTERNAL_JWT_ISSUER": "https://backend.example",
        "EXTERNAL_JWT_KEYS": #"[{"kid": "k1", "alg": "HS256", "secret": "external-backend-secret-0123456789abcdef"}]"#,
        "SIDECAR_SECRETS_DIR": "/nonexistent-sidecar-secrets",
    ]

    static func load(_ environment: [String: String]) async throws -> SidecarConfiguration {
        try SidecarConfiguration(reader: try await ConfigurationSources.makeReader(environment: environment))
    }

    @Test("Production refuses to start with EXTERNAL_JWT_ISSUER and no EXTERNAL_JWT_AUDIENCE, naming the setting")
    func productionNeedsAudience() async throws {
        let error = await #expect(throws: ConfigurationError.self) { try await Self.load(Self.production) }
        #expect(error?.setting == "EXTERNAL_JWT_AUDIENCE")
        var withAudience = Self.production
        withAudience["EXTERNAL_JWT_AUDIENCE"] = "tinode"
        #expect(try await Self.load(withAudience).restAuth.external?.audience == "tinode")
        // Without an external issuer, or in development, no audience is needed.
        var noIssuer = Self.production
        noIssuer["EXTERNAL_JWT_ISSUER"] = nil
        #expect(try await Self.load(noIssuer).restAuth.external == nil)
        var development = Self.production
        development["ENV"] = "development"
        #expect(try await Self.load(development).restAuth.external?.audience == nil)
    }

    @Test("Defaults: email_verified and a day; both settable, and logged")
    func defaultsAndValues() async throws {
        var environment = Self.production
        environment["ENV"] = "development"
        let defaults = try #require(try await Self.load(environment).restAuth.external)
        #expect(defaults.emailVerifiedClaim == "email_verified")
        #expect(defaults.maxLifetime == .seconds(86_400))

        environment["EXTERNAL_JWT_EMAIL_VERIFIED_CLAIM"] = "https://backend.example/email_ok"
        environment["EXTERNAL_JWT_MAX_LIFETIME_SECONDS"] = "3600"
        let configuration = try await Self.load(environment)
        let set = try #require(configuration.restAuth.external)
        #expect(set.emailVerifiedClaim == "https://backend.example/email_ok")
        #expect(set.maxLifetime == .seconds(3600))
        let summary = Dictionary(configuration.loggableSummary.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
        #expect(summary["EXTERNAL_JWT_EMAIL_VERIFIED_CLAIM"] == "https://backend.example/email_ok")
        #expect(summary["EXTERNAL_JWT_MAX_LIFETIME_SECONDS"] == "3600")
        #expect(summary["EXTERNAL_JWT_AUDIENCE"] == "<unset>")
    }

    @Test("An unusable EXTERNAL_JWT_MAX_LIFETIME_SECONDS stops start-up naming it", arguments: ["59", "0", "-1", "31536001", "a day"])
    func badLifetime(value: String) async throws {
        var environment = Self.production
        environment["ENV"] = "development"
        environment["EXTERNAL_JWT_MAX_LIFETIME_SECONDS"] = value
        let error = await #expect(throws: ConfigurationError.self) { try await Self.load(environment) }
        #expect(error?.setting == "EXTERNAL_JWT_MAX_LIFETIME_SECONDS")
    }
}
