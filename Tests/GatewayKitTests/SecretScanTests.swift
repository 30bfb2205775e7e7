import AuthPluginKit
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import SidecarCore
import SidecarServer
import Synchronization
import TestSupport
import Testing
import Valkey

@testable import GatewayKit

/// Secrets never reach a log line: both programs run with every log line captured at `trace`,
/// are driven through success and failure paths with known secrets, and the captured lines are
/// searched for each secret in every form it travels in.
@Suite("Secrets never in logs", .timeLimit(.minutes(3)))
struct SecretScanTests {
    @Test("passwords, JWTs, refresh tokens, ACCESS_SECRET, the Valkey password and Tinode tokens appear in no log line")
    func noSecretInLogs() async throws {
        let valkeyURL = try #require(ProcessInfo.processInfo.environment["VALKEY_TEST_URL"], "run scripts/test, which starts redis-server")
        let password = "Pa55word-Never-Logged-7f3c"
        let webhookSecret = "webhook-secret-never-logged-0123456789abcdef"
        let shared = [
            "ACCESS_SECRET": "gateway-test-access-secret-0123456789ab", "REFRESH_SECRET": "gateway-test-refresh-secret-0123456789a",
            "VALKEY_URL": valkeyURL, "AUTHPLUGIN_HTTP_ADDR": "127.0.0.1:0", "AUTHPLUGIN_GRPC_ADDR": "127.0.0.1:0",
            "SIDECAR_SECRETS_DIR": "/nonexistent-sidecar-secrets", "LOG_LEVEL": "trace",
            "PLUGIN_WEBHOOK_URLS": "http://127.0.0.1:9/hook", "PLUGIN_WEBHOOK_SECRET": webhookSecret,
        ]
        let logs = CapturedLogs()
        let configuration = try SidecarConfiguration(reader: try await ConfigurationSources.makeReader(environment: shared))
        configuration.logStartup(program: "AuthPlugin", logger: logs.logger(label: "AuthPlugin"))
        let authPlugin = try await buildAuthPluginApplication(configuration: configuration, logger: logs.logger(label: "AuthPlugin"))
        let seen = SeenSecrets()
        seen.add(shared["ACCESS_SECRET"]!, shared["REFRESH_SECRET"]!, password, webhookSecret)
        if let valkeyPassword = URLComponents(string: valkeyURL)?.password, !valkeyPassword.isEmpty { seen.add(valkeyPassword) }

        try await GatewayHarness.run(extraEnvironment: shared, logger: logs.logger(label: "Gateway")) { gateway in
            let email = "secretive-\(UUID().uuidString.prefix(8).lowercased())@example.com"
            let register = try await gateway.request(.post, "/v1/auth/register", json: ["email": email, "password": password, "name": "S"])
            #expect(register.status == 201)
            let first = try #require(register.json)
            let access = try #require(first["access_token"] as? String)
            let refresh = try #require(first["refresh_token"] as? String)
            seen.add(access, refresh)
            // The Tinode token the Gateway keeps for this user.
            let accessID = try #require(HostileJWTCorpus.claims(of: access)?["access_id"] as? String)
            try await withValkeyClient(try ValkeyConfiguration(url: valkeyURL)) { valkey in
                let record = try await ValkeyTokenStore(client: valkey).get(accessID: accessID)
                seen.add(try #require(record?.tinodeToken))
            }

            // Failure paths carry secrets too.
            _ = try await gateway.request(.post, "/v1/auth/login", json: ["email": email, "password": password + "-wrong"])
            _ = try await gateway.request(.post, "/v1/auth/register", json: ["email": email, "password": password, "name": "Again"])
            _ = try await gateway.request(.post, "/v1/auth/login", raw: #"{"email":"\#(email)","password":"\#(password)""#)
            _ = try await gateway.request(.get, "/v1/me", token: access + "x")
            _ = try await gateway.request(.post, "/v1/messages", json: ["text": "hi"], token: refresh)
            let login = try await gateway.request(.post, "/v1/auth/login", json: ["email": email, "password": password])
            let second = try #require(login.json)
            seen.add(try #require(second["access_token"] as? String), try #require(second["refresh_token"] as? String))
            _ = try await gateway.request(.get, "/v1/me", token: access)
            _ = try await gateway.request(.post, "/v1/messages", json: ["text": "hello"], token: access)
            let rotated = try await gateway.request(.post, "/v1/auth/refresh", json: ["refresh_token": refresh])
            if let next = rotated.json?["refresh_token"] as? String { seen.add(next, rotated.json?["access_token"] as? String ?? "") }
            _ = try await gateway.request(.post, "/v1/auth/refresh", json: ["refresh_token": refresh])  // reuse: family revoked

            try await authPlugin.test(.live) { client in
                for body in [
                    #"{"endpoint":"auth","name":"rest","secret":"\#(Data(access.utf8).base64EncodedString())","addr":"10.1.2.3:4"}"#,
                    #"{"endpoint":"auth","name":"rest","secret":"\#(Data((access + "x").utf8).base64EncodedString())"}"#,
                    #"{"endpoint":"link","name":"rest","secret":"\#(Data(refresh.utf8).base64EncodedString())","rec":{"uid":"AAAAAAAAAAA"}}"#,
                    #"{"endpoint":"auth","secret":"\#(Data(("basic:" + password).utf8).base64EncodedString())"}"#,
                    #"{"endpoint":"auth","secret":"\#(password)"#,
                ] {
                    _ = try await client.execute(
                        uri: "/auth", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: body)
                    ) { _ in () }
                }
            }
            _ = try await gateway.request(.post, "/v1/auth/logout", token: try #require(second["access_token"] as? String))
        }

        let lines = logs.all
        #expect(lines.count > 10, "too few log lines to mean anything: \(lines.count)")
        #expect(lines.contains { $0.contains("REST-auth") }, "REST-auth requests were not logged")
        for secret in seen.all {
            for form in SeenSecrets.forms(of: secret) {
                let leaks = lines.filter { $0.contains(form) }
                #expect(leaks.isEmpty, "a secret (\(secret.prefix(6))..., \(secret.count) characters) is in the log: \(leaks.first ?? "")")
            }
        }
    }
}

/// The secrets a test handed the programs.
private final class SeenSecrets: Sendable {
    private let secrets = Mutex<Set<String>>([])

    func add(_ values: String...) { secrets.withLock { $0.formUnion(values.filter { $0.count >= 6 }) } }
    var all: Set<String> { secrets.withLock { $0 } }

    /// The secret as is, base64 (how Tinode sends REST-auth secrets) and base64url; for a JWT also
    /// its signature alone, so that a cut token in a log still counts.
    static func forms(of secret: String) -> [String] {
        var forms = [secret, Data(secret.utf8).base64EncodedString(), base64URL(Data(secret.utf8))]
        let parts = secret.split(separator: ".")
        if parts.count == 3 { forms.append(String(parts[2])) }
        return forms
    }
}
