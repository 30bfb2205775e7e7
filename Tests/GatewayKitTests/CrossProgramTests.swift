import AuthPluginKit
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import SidecarCore
import TestSupport
import Testing
import TinodeDouble

@testable import GatewayKit

/// The Gateway and AuthPlugin share the token store: what the Gateway revokes, AuthPlugin refuses;
/// and the proven addresses: what the Gateway proved, a verified backend token may log into.
@Suite("Gateway and AuthPlugin together", .timeLimit(.minutes(2)))
struct CrossProgramTests {
    static let backendSecret = "cross-test-backend-secret-0123456789abcd"
    static let backendIssuer = "https://backend.cross.example"

    /// A backend JWT (HS256, kid backend-1) for `email` with subject `subject`.
    static func backendToken(email: String, subject: String, verified: Bool?) -> String {
        var claims: [String: Any] = [
            "sub": subject, "email": email, "iss": backendIssuer, "aud": "cross-test-app",
            "iat": Int(Date().timeIntervalSince1970), "exp": Int(Date().timeIntervalSince1970 + 600),
        ]
        if let verified { claims["email_verified"] = verified }
        return signHS256(
            header: ["alg": "HS256", "kid": "backend-1", "typ": "JWT"], claims: claims, secret: Array(backendSecret.utf8))
    }

    /// The settings both programs share here: real Valkey, verification required, the backend
    /// issuer. Nil (with an issue recorded) without the test Valkey.
    static func sharedSettings() -> [String: String]? {
        guard let valkey = ProcessInfo.processInfo.environment["VALKEY_TEST_URL"], !valkey.isEmpty else {
            Issue.record("VALKEY_TEST_URL is not set: run scripts/test, which starts redis-server")
            return nil
        }
        return [
            "ACCESS_SECRET": "gateway-test-access-secret-0123456789ab", "REFRESH_SECRET": "gateway-test-refresh-secret-0123456789a",
            "VALKEY_URL": valkey, "AUTHPLUGIN_HTTP_ADDR": "127.0.0.1:0", "AUTHPLUGIN_GRPC_ADDR": "127.0.0.1:0",
            "SIDECAR_SECRETS_DIR": "/nonexistent-sidecar-secrets", "LOG_LEVEL": "error", "GATEWAY_EMAIL_VERIFICATION": "required",
            "EXTERNAL_JWT_ISSUER": backendIssuer, "EXTERNAL_JWT_AUDIENCE": "cross-test-app",
            "EXTERNAL_JWT_KEYS": #"[{"kid": "backend-1", "alg": "HS256", "secret": "\#(backendSecret)"}]"#,
        ]
    }

    /// The AuthPlugin application with `settings`, logging errors only.
    static func authPlugin(_ settings: [String: String]) async throws -> some ApplicationProtocol {
        let configuration = try SidecarConfiguration(reader: try await ConfigurationSources.makeReader(environment: settings))
        var logger = Logger(label: "AuthPluginInCrossTest")
        logger.logLevel = .error
        return try await buildAuthPluginApplication(configuration: configuration, logger: logger)
    }

    @Test(
        "one account per person: a verified Gateway user's backend JWT with email_verified true logs into the same account; an unverified claim never does"
    )
    func provenAddressLinksBackendLogin() async throws {
        guard let shared = Self.sharedSettings() else { return }
        let authPlugin = try await Self.authPlugin(shared)
        var options = TinodeDouble.Options()
        options.emailValidation = .init()
        try await GatewayHarness.run(extraEnvironment: shared, options: options) { gateway in
            let email = "person-\(UUID().uuidString.prefix(8).lowercased())@example.com"
            let registered = try await gateway.request(.post, "/v1/auth/register", json: ["email": email, "password": "person-pass"])
            #expect(registered.status == 202)
            try await authPlugin.test(.live) { client in
                func auth(_ token: String) async throws -> [String: Any] {
                    let body = #"{"endpoint":"auth","name":"rest","secret":"\#(Data(token.utf8).base64EncodedString())"}"#
                    return try await client.execute(
                        uri: "/auth", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: body)
                    ) { response in
                        try #require(try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any])
                    }
                }
                // Before the address is proven, even a verified claim finds no account.
                let early = try await auth(Self.backendToken(email: email, subject: "early-\(email)", verified: true))
                #expect((early["rec"] as? [String: Any])?["uid"] == nil && early["newacc"] != nil, "\(early)")

                let code = try #require(gateway.double.confirmationMails().last { $0.address == email }?.code)
                let verified = try await gateway.request(
                    .post, "/v1/auth/verify", json: ["email": email, "password": "person-pass", "code": code])
                let userID = try #require(verified.json?["user_id"] as? String)

                let unverifiedClaim = try await auth(Self.backendToken(email: email, subject: "other-\(email)", verified: false))
                #expect((unverifiedClaim["rec"] as? [String: Any])?["uid"] == nil, "email_verified false never links: \(unverifiedClaim)")
                let absentClaim = try await auth(Self.backendToken(email: email, subject: "third-\(email)", verified: nil))
                #expect((absentClaim["rec"] as? [String: Any])?["uid"] == nil, "an absent claim never links: \(absentClaim)")
                let linked = try await auth(Self.backendToken(email: email, subject: "owner-\(email)", verified: true))
                #expect((linked["rec"] as? [String: Any])?["uid"] as? String == String(userID.dropFirst(3)), "\(linked)")
            }
        }
    }

    @Test("a Gateway access token logs in through REST-auth until logout, then answers expired")
    func logoutReachesAuthPlugin() async throws {
        guard let valkey = ProcessInfo.processInfo.environment["VALKEY_TEST_URL"], !valkey.isEmpty else {
            Issue.record("VALKEY_TEST_URL is not set: run scripts/test, which starts redis-server")
            return
        }
        let shared = [
            "ACCESS_SECRET": "gateway-test-access-secret-0123456789ab", "REFRESH_SECRET": "gateway-test-refresh-secret-0123456789a",
            "VALKEY_URL": valkey, "AUTHPLUGIN_HTTP_ADDR": "127.0.0.1:0", "AUTHPLUGIN_GRPC_ADDR": "127.0.0.1:0",
            "SIDECAR_SECRETS_DIR": "/nonexistent-sidecar-secrets",
            "LOG_LEVEL": "error",
        ]
        let configuration = try SidecarConfiguration(reader: try await ConfigurationSources.makeReader(environment: shared))
        var logger = Logger(label: "AuthPluginInCrossTest")
        logger.logLevel = .error
        let authPlugin = try await buildAuthPluginApplication(configuration: configuration, logger: logger)
        try await GatewayHarness.run(extraEnvironment: shared) { gateway in
            let (_, tokens) = try await gateway.register("crossuser")
            let access = try #require(tokens["access_token"] as? String)
            let userID = try #require(tokens["user_id"] as? String)
            let secret = Data(access.utf8).base64EncodedString()
            try await authPlugin.test(.live) { client in
                func auth() async throws -> [String: Any] {
                    let body = #"{"endpoint":"auth","name":"rest","secret":"\#(secret)"}"#
                    return try await client.execute(
                        uri: "/auth", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: body)
                    ) { response in
                        try #require(try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any])
                    }
                }
                // Several logins, so that AuthPlugin serves the token record from its client-side cache by
                // the time of the logout: the revocation must reach that cache too.
                for _ in 0..<5 {
                    let before = try await auth()
                    #expect((before["rec"] as? [String: Any])?["uid"] as? String == String(userID.dropFirst(3)))
                    try await Task.sleep(for: .milliseconds(50))
                }
                #expect(try await gateway.request(.post, "/v1/auth/logout", token: access).status == 204)
                let after = try await auth()
                #expect(after["err"] as? String == "expired")
            }
        }
    }

    @Test("POST /v1/auth/external: a backend JWT reaches the Gateway through Tinode's rest login; one account per person both ways")
    func backendTokenExchange() async throws {
        guard let shared = Self.sharedSettings() else { return }
        let authPlugin = try await Self.authPlugin(shared)
        try await authPlugin.test(.live) { authPluginClient in
            var options = TinodeDouble.Options()
            options.emailValidation = .init()
            options.restAuth = .init(serverURL: "http://127.0.0.1:\(try #require(authPluginClient.port))/")
            try await GatewayHarness.run(extraEnvironment: shared, options: options) { gateway in
                func exchange(_ token: String) async throws -> GatewayHarness.Reply {
                    try await gateway.request(.post, "/v1/auth/external", json: ["token": token])
                }
                // Backend first: Tinode makes the account through AuthPlugin (newacc, then link).
                let email = "backend-\(UUID().uuidString.prefix(8).lowercased())@example.com"
                let subject = "subject-\(UUID())"
                let first = try await exchange(Self.backendToken(email: email, subject: subject, verified: true))
                #expect(first.status == 200, "\(first.text)")
                let userID = try #require(first.json?["user_id"] as? String)
                #expect(first.json?["login"] is NSNull, "an account REST-auth made has no basic login")
                let access = try #require(first.json?["access_token"] as? String)
                let me = try await gateway.request(.get, "/v1/me", token: access)
                #expect(me.json?["email"] as? String == email && me.json?["email_verified"] as? Bool == true, "\(me.text)")
                let sent = try await gateway.request(.post, "/v1/messages", json: ["text": "from the backend user"], token: access)
                #expect(sent.status == 201, "the exchanged pair works like any other: \(sent.text)")

                // The same subject with a changed address keeps its account.
                let moved = try await exchange(Self.backendToken(email: "moved-\(email)", subject: subject, verified: true))
                #expect(moved.json?["user_id"] as? String == userID)
                // Registering the backend user's address makes no second account.
                let register = try await gateway.request(.post, "/v1/auth/register", json: ["email": email, "password": "second-one"])
                #expect(register.status == 202)
                #expect(try LoginNameMapper().loginNames(for: email).allSatisfy { gateway.double.userID(login: $0) == nil })

                // Gateway first: the verified Gateway account is the backend subject's too.
                let gatewayEmail = "gateway-\(UUID().uuidString.prefix(8).lowercased())@example.com"
                _ = try await gateway.request(.post, "/v1/auth/register", json: ["email": gatewayEmail, "password": "gateway-pass"])
                let code = try #require(gateway.double.confirmationMails().last { $0.address == gatewayEmail }?.code)
                let verified = try await gateway.request(
                    .post, "/v1/auth/verify", json: ["email": gatewayEmail, "password": "gateway-pass", "code": code])
                let gatewayUser = try #require(verified.json?["user_id"] as? String)
                let joined = try await exchange(Self.backendToken(email: gatewayEmail, subject: "s-\(UUID())", verified: true))
                #expect(joined.json?["user_id"] as? String == gatewayUser, "\(joined.text)")
                let unverified = try await exchange(Self.backendToken(email: gatewayEmail, subject: "u-\(UUID())", verified: false))
                #expect(
                    unverified.status == 200 && unverified.json?["user_id"] as? String != gatewayUser,
                    "an unverified claim gets its own account")

                // Refused tokens: one answer.
                let forged = Self.backendToken(email: email, subject: subject, verified: true).dropLast(2) + "xx"
                for token in [String(forged), "not-a-jwt", access] {
                    let refused = try await exchange(token)
                    #expect(refused.status == 401 && refused.errorCode == "invalid_token", "\(refused.text)")
                }
            }
        }
    }

    @Test("a refresh renews a Tinode token near its end through REST-auth: a user away longer than Tinode's expire_in stays logged in")
    func refreshRenewsTheTinodeToken() async throws {
        guard var settings = Self.sharedSettings() else { return }
        settings["GATEWAY_EMAIL_VERIFICATION"] = "off"
        // Tinode's tokens live 3 s here; the Gateway renews once less than half of 60 s is left,
        // that is at every refresh.
        settings["TINODE_TOKEN_LIFETIME_SECONDS"] = "60"
        let shared = settings
        let authPlugin = try await Self.authPlugin(shared)
        try await authPlugin.test(.live) { authPluginClient in
            var options = TinodeDouble.Options()
            options.tokenLifetime = .seconds(3)
            options.restAuth = .init(serverURL: "http://127.0.0.1:\(try #require(authPluginClient.port))/")
            try await GatewayHarness.run(extraEnvironment: shared, options: options) { gateway in
                let (_, tokens) = try await gateway.register("renewed")
                // Away for longer than the Tinode token lives.
                try await Task.sleep(for: .milliseconds(3_500))
                let refreshed = try await RevocationTests.refresh(gateway, tokens)
                #expect(refreshed.status == 200, "\(refreshed.text)")
                let access = try #require(refreshed.json?["access_token"] as? String)
                // Another instance has no session of the user: it logs in to Tinode with the
                // record's Tinode token, which works only if the refresh renewed it.
                let second = try await GatewayHarness.makeApplication(double: gateway.double, room: gateway.room, extraEnvironment: shared)
                try await second.test(.live) { client in
                    let other = GatewayHarness(client: client, double: gateway.double, room: gateway.room, port: client.port ?? 0)
                    let me = try await other.request(.get, "/v1/me", token: access)
                    #expect(me.status == 200, "\(me.text)")
                }
                // The family keeps the renewed token: the next refresh starts from it.
                let again = try await RevocationTests.refresh(gateway, try #require(refreshed.json))
                #expect(again.status == 200, "\(again.text)")
            }
        }
    }
}
