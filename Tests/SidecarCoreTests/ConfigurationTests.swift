import Foundation
import Logging
import Testing

@testable import SidecarCore

private let strong = String(repeating: "s", count: 32)
private let strong2 = String(repeating: "r", count: 40)

/// A temporary directory removed when the test ends.
private final class TemporaryDirectory {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("sidecar-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func write(_ name: String, _ text: String) throws {
        try Data(text.utf8).write(to: url.appendingPathComponent(name))
    }
    deinit { try? FileManager.default.removeItem(at: url) }
}

private func load(_ environment: [String: String]) async throws -> SidecarConfiguration {
    var environment = environment
    // Never read the machine's real /run/secrets in tests.
    if environment[ConfigurationSources.secretsDirectoryVariable] == nil {
        environment[ConfigurationSources.secretsDirectoryVariable] = "/nonexistent-sidecar-secrets"
    }
    return try SidecarConfiguration(reader: try await ConfigurationSources.makeReader(environment: environment))
}

@Suite("Configuration")
struct ConfigurationTests {
    @Test("Defaults: development, embedded store, loopback addresses, with warnings")
    func defaults() async throws {
        let configuration = try await load([:])
        #expect(configuration.environment == .development)
        #expect(configuration.valkey == nil)
        #expect(configuration.tinodeGRPCAddress == NetworkAddress(host: "127.0.0.1", port: 16060))
        #expect(configuration.authPluginHTTPAddress == NetworkAddress(host: "127.0.0.1", port: 5000))
        #expect(configuration.authPluginGRPCAddress == NetworkAddress(host: "127.0.0.1", port: 40051))
        #expect(configuration.gatewayHTTPAddress == NetworkAddress(host: "127.0.0.1", port: 8080))
        #expect(configuration.loginNameMaxLength == 26)
        #expect(configuration.jwt.accessSecret?.bytes.count == 32)
        #expect(configuration.warnings.contains { $0.contains("ACCESS_SECRET is unset") })
        #expect(configuration.warnings.contains { $0.contains("REFRESH_SECRET is unset") })
        #expect(configuration.warnings.contains { $0.contains("VALKEY_URL is unset") })
    }

    @Test("Development generates a different random secret each start")
    func generatedSecretsDiffer() async throws {
        let first = try await load([:]).jwt.accessSecret
        let second = try await load([:]).jwt.accessSecret
        #expect(first != second)
    }

    @Test("The original deployment's names keep working")
    func originalNames() async throws {
        let configuration = try await load([
            "ENV": "production", "SSL": "false", "ACCESS_SECRET": strong, "REFRESH_SECRET": strong2,
            "REDIS_PASS": "pw", "VALKEY_URL": "redis://valkey:6379/0", "TINODE_TOPIC_ID": "grpAbC",
            "TINODE_GRPC_ADDR": "tinode:16060", "GATEWAY_HTTP_ADDR": "0.0.0.0:8080",
            "AUTHPLUGIN_HTTP_ADDR": "[::1]:5000",
        ])
        #expect(configuration.environment == .production)
        #expect(configuration.jwt.accessSecret == SecretBytes(strong))
        #expect(configuration.jwt.refreshSecret == SecretBytes(strong2))
        #expect(configuration.valkey?.password == SecretBytes("pw"))
        #expect(configuration.valkey?.url == "redis://valkey:6379/0")
        #expect(configuration.tinodeTopicID == "grpAbC")
        #expect(configuration.tinodeGRPCAddress == NetworkAddress(host: "tinode", port: 16060))
        #expect(configuration.gatewayHTTPAddress == NetworkAddress(host: "0.0.0.0", port: 8080))
        #expect(configuration.authPluginHTTPAddress == NetworkAddress(host: "::1", port: 5000))
        #expect(configuration.warnings.isEmpty)
    }

    @Test(
        "Production refuses to start with a missing or short secret, naming it",
        arguments: [
            (["REFRESH_SECRET": strong, "VALKEY_URL": "redis://x:1"], "ACCESS_SECRET"),
            (["ACCESS_SECRET": strong, "VALKEY_URL": "redis://x:1"], "REFRESH_SECRET"),
            (["ACCESS_SECRET": "short", "REFRESH_SECRET": strong, "VALKEY_URL": "redis://x:1"], "ACCESS_SECRET"),
            (
                ["ACCESS_SECRET": strong, "REFRESH_SECRET": String(repeating: "x", count: 31), "VALKEY_URL": "redis://x:1"],
                "REFRESH_SECRET"
            ),
            (["ACCESS_SECRET": strong, "REFRESH_SECRET": strong], "VALKEY_URL"),
        ])
    func productionRefusesWeakSecrets(environment: [String: String], setting: String) async throws {
        var environment = environment
        environment["ENV"] = "production"
        let error = await #expect(throws: ConfigurationError.self) { try await load(environment) }
        #expect(error?.setting == setting)
        // The message never repeats the secret's value.
        #expect(!(error?.description.contains("short") ?? true))
    }

    @Test("Development accepts a short secret but warns")
    func developmentWarnsOnShortSecret() async throws {
        let configuration = try await load(["ACCESS_SECRET": "short"])
        #expect(configuration.jwt.accessSecret == SecretBytes("short"))
        #expect(configuration.warnings.contains { $0.contains("ACCESS_SECRET is shorter than 32") })
    }

    @Test(
        "Bad values are refused with the setting's name",
        arguments: [
            ("ENV", "staging"), ("SSL", "maybe"), ("TINODE_GRPC_ADDR", "nohost"), ("GATEWAY_HTTP_ADDR", "1.2.3.4:99999"),
            ("JWT_ACCESS_TTL", "ten"), ("LOGIN_NAME_MAX_LENGTH", "40"), ("LOG_LEVEL", "loud"), ("SSL", "true"),
            ("TINODE_GRPC_KEEPALIVE_SECONDS", "1"),
        ])
    func badValues(name: String, value: String) async throws {
        let error = await #expect(throws: ConfigurationError.self) { try await load([name: value]) }
        #expect(error?.setting == name)
    }

    @Test("Precedence: environment, then the JSON config file, then the secrets directory")
    func precedence() async throws {
        let directory = try TemporaryDirectory()
        try directory.write("config.json", #"{"TINODE_TOPIC_ID": "grpFromFile", "JWT_ISSUER": "file-issuer", "JWT_ACCESS_TTL": 600}"#)
        let secrets = directory.url.appendingPathComponent("secrets")
        try FileManager.default.createDirectory(at: secrets, withIntermediateDirectories: true)
        try Data("grpFromSecrets\n".utf8).write(to: secrets.appendingPathComponent("TINODE_TOPIC_ID"))
        try Data("\(strong)\n".utf8).write(to: secrets.appendingPathComponent("ACCESS_SECRET"))
        try Data("secret-issuer".utf8).write(to: secrets.appendingPathComponent("JWT_ISSUER"))
        try Data("secret-audience".utf8).write(to: secrets.appendingPathComponent("JWT_AUDIENCE"))
        let base = [
            "SIDECAR_CONFIG_FILE": directory.url.appendingPathComponent("config.json").path,
            "SIDECAR_SECRETS_DIR": secrets.path,
        ]
        let fromFiles = try await load(base)
        #expect(fromFiles.tinodeTopicID == "grpFromFile")  // file beats secrets directory
        #expect(fromFiles.jwt.issuer == "file-issuer")
        #expect(fromFiles.jwt.audience == "secret-audience")  // only in the secrets directory
        #expect(fromFiles.jwt.accessSecret == SecretBytes(strong))  // trimmed secret file
        #expect(fromFiles.jwt.accessTTL == .seconds(600))  // a JSON number
        let fromEnvironment = try await load(base.merging(["TINODE_TOPIC_ID": "grpFromEnv"]) { $1 })
        #expect(fromEnvironment.tinodeTopicID == "grpFromEnv")
    }

    @Test("A named config file that is missing or not JSON stops start-up")
    func badConfigFile() async throws {
        let missing = await #expect(throws: ConfigurationError.self) {
            try await load(["SIDECAR_CONFIG_FILE": "/nonexistent/sidecar.json"])
        }
        #expect(missing?.setting == "SIDECAR_CONFIG_FILE")
        let directory = try TemporaryDirectory()
        try directory.write("bad.json", "{not json")
        await #expect(throws: ConfigurationError.self) {
            try await load(["SIDECAR_CONFIG_FILE": directory.url.appendingPathComponent("bad.json").path])
        }
    }

    @Test("The start-up summary never contains a secret")
    func summaryMasksSecrets() async throws {
        let configuration = try await load([
            "ACCESS_SECRET": strong, "REFRESH_SECRET": strong2, "REDIS_PASS": "hunter2hunter2",
            "VALKEY_URL": "redis://admin:topsecretpw@valkey:6379/0",
        ])
        let text = configuration.loggableSummary.map { "\($0.name)=\($0.value)" }.joined(separator: "\n")
        for secret in [strong, strong2, "hunter2hunter2", "topsecretpw"] {
            #expect(!text.contains(secret))
        }
        #expect(text.contains("VALKEY_URL=redis://admin:***@valkey:6379/0"))
        #expect(String(describing: configuration.jwt.accessSecret!) == "<redacted>")
        #expect(ValkeySettings.maskedURL("redis://:pw@h:1/0") == "redis://:***@h:1/0")
        #expect(ValkeySettings.maskedURL("redis://h:1") == "redis://h:1")
    }

    @Test("MONGO_URL: read-only MongoDB settings with defaults, the password masked in the summary, a bad URL refused")
    func mongoSettings() async throws {
        let unset = try await load(["ACCESS_SECRET": strong, "REFRESH_SECRET": strong2])
        #expect(unset.mongo == nil)
        let configuration = try await load([
            "ACCESS_SECRET": strong, "REFRESH_SECRET": strong2,
            "MONGO_URL": "mongodb://sidecar_reader:mongo-topsecret@mongo1:27017,mongo2:27018/?replicaSet=rs0",
        ])
        let mongo = try #require(configuration.mongo)
        #expect(mongo.database == "tinode")
        #expect(mongo.timeout == .milliseconds(2000))
        #expect(mongo.poolSize == 4)
        #expect(mongo.fallbackToTinode == false)
        let text = configuration.loggableSummary.map { "\($0.name)=\($0.value)" }.joined(separator: "\n")
        #expect(!text.contains("mongo-topsecret"))
        // The query is masked too: options such as tlsCertificateKeyFilePassword may carry secrets.
        #expect(text.contains("MONGO_URL=mongodb://sidecar_reader:***@mongo1:27017,mongo2:27018/?***"))
        let custom = try await load([
            "ACCESS_SECRET": strong, "REFRESH_SECRET": strong2, "MONGO_URL": "mongodb://mongo1/", "MONGO_DATABASE": "chat",
            "MONGO_TIMEOUT_MS": "750", "MONGO_POOL_SIZE": "2", "MONGO_FALLBACK": "true",
        ])
        #expect(custom.mongo?.database == "chat")
        #expect(custom.mongo?.timeout == .milliseconds(750))
        #expect(custom.mongo?.poolSize == 2)
        #expect(custom.mongo?.fallbackToTinode == true)
        let refused = await #expect(throws: ConfigurationError.self) {
            try await load(["ACCESS_SECRET": strong, "REFRESH_SECRET": strong2, "MONGO_URL": "redis://mongo1/"])
        }
        #expect(refused?.setting == "MONGO_URL")
        await #expect(throws: ConfigurationError.self) {
            try await load(["ACCESS_SECRET": strong, "REFRESH_SECRET": strong2, "MONGO_URL": "mongodb://m/", "MONGO_TIMEOUT_MS": "0"])
        }
    }

    @Test("Every setting has a distinct name and a scoped key that encodes back to it")
    func settingNames() {
        let names = Settings.all.map(\.name)
        #expect(Set(names).count == names.count)
        for setting in Settings.all {
            #expect(SettingName.external(setting.key.components) == setting.name)
        }
    }

    @Test(
        "Network addresses parse host:port and bracketed IPv6",
        arguments: [
            ("127.0.0.1:5000", NetworkAddress(host: "127.0.0.1", port: 5000)), ("[::1]:80", NetworkAddress(host: "::1", port: 80)),
            ("tinode:16060", NetworkAddress(host: "tinode", port: 16060)), ("::1:80", nil), (":80", nil), ("host:", nil),
            ("host:-1", nil), ("[::1]80", nil),
        ])
    func addresses(text: String, expected: NetworkAddress?) {
        #expect(NetworkAddress(parsing: text) == expected)
    }
}

@Suite("Token store selection")
struct StoreBackendTests {
    @Test("No VALKEY_URL: the embedded in-memory store and no service to run")
    func embedded() async throws {
        let backend = try StoreBackend(configuration: try await load([:]), logger: .init(label: "test"))
        #expect(backend.store is InMemoryTokenStore)
        #expect(backend.services.isEmpty)
    }

    @Test("VALKEY_URL: the Valkey store, its client run as a service, REDIS_PASS used")
    func valkey() async throws {
        let backend = try StoreBackend(
            configuration: try await load(["VALKEY_URL": "redis://127.0.0.1:6399/2", "REDIS_PASS": "pw"]), logger: .init(label: "test"))
        #expect(backend.store is ValkeyTokenStore)
        #expect(backend.services.count == 1)
        #expect(backend.valkey?.configuration.password == "pw")
        #expect(backend.valkey?.configuration.database == 2)
        await backend.valkey?.shutdown()
    }

    @Test("An unusable VALKEY_URL stops start-up naming the setting")
    func badURL() async throws {
        let configuration = try await load(["VALKEY_URL": "rediss://127.0.0.1:6379"])
        let error = #expect(throws: ConfigurationError.self) {
            try StoreBackend(configuration: configuration, logger: .init(label: "test"))
        }
        #expect(error?.setting == "VALKEY_URL")
    }

    @Test("An external issuer needs EXTERNAL_JWT_KEYS or an http(s) EXTERNAL_JWT_JWKS_URL")
    func externalIssuerKeys() async throws {
        let issuer = ["EXTERNAL_JWT_ISSUER": "https://backend.example"]
        await #expect(throws: ConfigurationError.self) { try await load(issuer) }
        for bad in ["ftp://keys.example/jwks.json", "not a url", "https:///jwks.json"] {
            await #expect(throws: ConfigurationError.self) {
                try await load(issuer.merging(["EXTERNAL_JWT_JWKS_URL": bad]) { $1 })
            }
        }
        let withURL = try await load(issuer.merging(["EXTERNAL_JWT_JWKS_URL": "https://login.example/.well-known/jwks.json"]) { $1 })
        #expect(withURL.restAuth.external?.jwksURL?.host == "login.example")
        #expect(withURL.restAuth.external?.keysJSON == nil)
        #expect(withURL.restAuth.external?.jwksRefreshInterval == .seconds(300))
        await #expect(throws: ConfigurationError.self) {
            try await load(
                issuer.merging(["EXTERNAL_JWT_JWKS_URL": "https://login.example/jwks", "EXTERNAL_JWT_JWKS_REFRESH_SECONDS": "5"]) { $1 })
        }
    }
}
