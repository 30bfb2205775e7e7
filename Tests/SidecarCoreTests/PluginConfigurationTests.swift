import Foundation
import Testing

@testable import SidecarCore

@Suite("Configuration of the plugin service")
struct PluginConfigurationTests {
    private func load(_ environment: [String: String]) async throws -> SidecarConfiguration {
        var environment = environment
        environment[ConfigurationSources.secretsDirectoryVariable] = "/nonexistent-sidecar-secrets"
        return try SidecarConfiguration(reader: try await ConfigurationSources.makeReader(environment: environment))
    }

    @Test("Defaults: every policy on, Find rewriting on, no webhooks")
    func defaults() async throws {
        let plugin = try await load([:]).plugin
        #expect(plugin.loginAttemptsPerMinute == 20)
        #expect(plugin.maxPubBytes == 65536)
        #expect(plugin.throttleTimeout == .milliseconds(250))
        #expect(plugin.canonicalLogins && plugin.findEmails)
        #expect(plugin.throttleExempt.allows("127.0.0.1") && plugin.throttleExempt.allows("::1"))
        #expect(!plugin.throttleExempt.allows("10.0.0.1"))
        #expect(plugin.webhooks == nil)
    }

    @Test("0 turns the throttle and the size guard off")
    func zeroIsOff() async throws {
        let plugin = try await load(["PLUGIN_LOGIN_ATTEMPTS_PER_MINUTE": "0", "PLUGIN_MAX_PUB_BYTES": "0"]).plugin
        #expect(plugin.loginAttemptsPerMinute == nil && plugin.maxPubBytes == nil)
    }

    @Test("Webhooks: URLs, secret and delivery settings are read; the log shows neither secret nor query")
    func webhooks() async throws {
        let secret = String(repeating: "w", count: 40)
        let configuration = try await load([
            "PLUGIN_WEBHOOK_URLS": "https://hooks.example/tinode?token=abc, http://10.0.0.5:8000/events",
            "PLUGIN_WEBHOOK_SECRET": secret, "PLUGIN_WEBHOOK_QUEUE_SIZE": "50", "PLUGIN_WEBHOOK_TIMEOUT_MS": "750",
            "PLUGIN_WEBHOOK_MAX_ATTEMPTS": "3", "PLUGIN_WEBHOOK_BACKOFF_MS": "100", "PLUGIN_WEBHOOK_CONCURRENCY": "2",
        ])
        let webhooks = try #require(configuration.plugin.webhooks)
        #expect(webhooks.urls.map(\.absoluteString) == ["https://hooks.example/tinode?token=abc", "http://10.0.0.5:8000/events"])
        #expect(webhooks.secret == SecretBytes(secret))
        #expect(webhooks.queueSize == 50 && webhooks.maxAttempts == 3 && webhooks.concurrency == 2)
        #expect(webhooks.timeout == .milliseconds(750) && webhooks.initialBackoff == .milliseconds(100))
        let summary = configuration.loggableSummary.map { "\($0.name)=\($0.value)" }.joined(separator: "\n")
        #expect(summary.contains("PLUGIN_WEBHOOK_SECRET=<set, redacted>"))
        #expect(summary.contains("https://hooks.example/tinode?***"))
        #expect(!summary.contains(secret) && !summary.contains("token=abc"))
    }

    @Test(
        "Unusable plugin settings are refused with the setting's name",
        arguments: [
            (["PLUGIN_WEBHOOK_URLS": "ftp://example.com/x", "PLUGIN_WEBHOOK_SECRET": "s"], "PLUGIN_WEBHOOK_URLS"),
            (["PLUGIN_WEBHOOK_URLS": "not a url"], "PLUGIN_WEBHOOK_URLS"),
            (["PLUGIN_WEBHOOK_URLS": "http://127.0.0.1:9/hook"], "PLUGIN_WEBHOOK_SECRET"),
            (["PLUGIN_THROTTLE_EXEMPT_NETWORKS": "10.0.0.0/33"], "PLUGIN_THROTTLE_EXEMPT_NETWORKS"),
            (["PLUGIN_LOGIN_ATTEMPTS_PER_MINUTE": "-1"], "PLUGIN_LOGIN_ATTEMPTS_PER_MINUTE"),
            (["PLUGIN_CANONICAL_LOGINS": "sometimes"], "PLUGIN_CANONICAL_LOGINS"),
            (
                ["PLUGIN_WEBHOOK_URLS": "http://127.0.0.1:9/hook", "PLUGIN_WEBHOOK_SECRET": "s", "PLUGIN_WEBHOOK_QUEUE_SIZE": "0"],
                "PLUGIN_WEBHOOK_QUEUE_SIZE"
            ),
        ])
    func refused(environment: [String: String], setting: String) async throws {
        let error = await #expect(throws: ConfigurationError.self) { try await load(environment) }
        #expect(error?.setting == setting)
    }

    @Test("Production refuses a webhook secret under 32 bytes; development warns")
    func shortSecret() async throws {
        let hooks = ["PLUGIN_WEBHOOK_URLS": "http://127.0.0.1:9/hook", "PLUGIN_WEBHOOK_SECRET": "short"]
        let development = try await load(hooks)
        #expect(development.warnings.contains { $0.contains("PLUGIN_WEBHOOK_SECRET is shorter than 32") })
        let strong = String(repeating: "s", count: 32)
        var production = hooks
        production.merge([
            "ENV": "production", "ACCESS_SECRET": strong, "REFRESH_SECRET": strong + "r", "VALKEY_URL": "redis://127.0.0.1:6379/0",
        ]) { _, new in new }
        let error = await #expect(throws: ConfigurationError.self) { try await load(production) }
        #expect(error?.setting == "PLUGIN_WEBHOOK_SECRET")
    }
}
