import Crypto
import Foundation
import HTTPTypes
import TestSupport
import Testing
import Valkey

/// The limits of the routes that take credentials, over real HTTP: per client behind a trusted
/// proxy (`TRUSTED_PROXIES`), per account from many clients, and closed while Valkey is down.
@Suite("Auth limits behind a proxy", .timeLimit(.minutes(2)))
struct AuthLimitsBehindProxyTests {
    /// The test client connects from loopback: that is "the proxy" here.
    static let loopbackProxy = "127.0.0.0/8,::1/128"

    static func forwarded(for client: String) -> HTTPFields {
        [HTTPField.Name("X-Forwarded-For")!: client]
    }

    static func guess(_ gateway: GatewayHarness, from client: String, email: String? = nil) async throws -> GatewayHarness.Reply {
        try await gateway.request(
            .post, "/v1/auth/login", json: ["email": email ?? "guess-\(UUID())@example.com", "password": "wrong-password"],
            headers: forwarded(for: client))
    }

    @Test("clients behind a trusted proxy have a bucket each: one client's 429 leaves the next one alone")
    func separateBucketsBehindProxy() async throws {
        let environment = ["TRUSTED_PROXIES": Self.loopbackProxy, "GATEWAY_AUTH_ATTEMPTS_PER_MINUTE": "2"]
        try await GatewayHarness.run(valkey: false, extraEnvironment: environment) { gateway in
            #expect(try await Self.guess(gateway, from: "198.51.100.1").status == 401)
            #expect(try await Self.guess(gateway, from: "198.51.100.1").status == 401)
            let limited = try await Self.guess(gateway, from: "198.51.100.1")
            #expect(limited.status == 429 && limited.errorCode == "rate_limited")
            #expect(try await Self.guess(gateway, from: "198.51.100.2").status == 401, "another client, its own bucket")

            // RFC 7239 names a client as well as X-Forwarded-For does.
            let viaForwarded = try await gateway.request(
                .post, "/v1/auth/login", json: ["email": "g-\(UUID())@example.com", "password": "wrong-password"],
                headers: [HTTPField.Name("Forwarded")!: "for=198.51.100.1;proto=https"])
            #expect(viaForwarded.status == 429, "the same client through the other header: the same bucket")

            // IPv6: one bucket per /64, so hopping between addresses of one network gains nothing.
            #expect(try await Self.guess(gateway, from: "2001:db8:1:2::a").status == 401)
            #expect(try await Self.guess(gateway, from: "2001:db8:1:2::b").status == 401)
            #expect(try await Self.guess(gateway, from: "2001:db8:1:2:ffff::c").status == 429)
            #expect(try await Self.guess(gateway, from: "2001:db8:1:3::a").status == 401, "the next /64 is another client")
        }
    }

    @Test("an untrusted peer's X-Forwarded-For is ignored: changing it does not buy a new bucket", arguments: ["", "10.0.0.0/8"])
    func untrustedPeerIgnored(trustedProxies: String) async throws {
        let environment = ["TRUSTED_PROXIES": trustedProxies, "GATEWAY_AUTH_ATTEMPTS_PER_MINUTE": "2"]
        try await GatewayHarness.run(valkey: false, extraEnvironment: environment) { gateway in
            #expect(try await Self.guess(gateway, from: "198.51.100.1").status == 401)
            #expect(try await Self.guess(gateway, from: "198.51.100.2").status == 401)
            let limited = try await Self.guess(gateway, from: "198.51.100.3")
            #expect(limited.status == 429, "\(limited.text)")
        }
    }

    @Test("password tries against one account are limited however many clients send them; other accounts are not")
    func perAccountLimit() async throws {
        let environment = ["TRUSTED_PROXIES": Self.loopbackProxy, "GATEWAY_LOGIN_ATTEMPTS_PER_ACCOUNT_PER_HOUR": "3"]
        try await GatewayHarness.run(valkey: false, extraEnvironment: environment) { gateway in
            let (email, _) = try await gateway.register("target")
            let (other, _) = try await gateway.register("bystander")
            for index in 1...3 {
                #expect(try await Self.guess(gateway, from: "203.0.113.\(index)", email: email).status == 401)
            }
            // A fourth client, even with the right password and the address written differently.
            let limited = try await gateway.request(
                .post, "/v1/auth/login", json: ["email": " " + email.uppercased(), "password": "secret-password"],
                headers: Self.forwarded(for: "203.0.113.4"))
            #expect(limited.status == 429 && limited.errorCode == "rate_limited", "\(limited.text)")
            #expect(Int(limited.headers[HTTPField.Name("Retry-After")!] ?? "") ?? 0 >= 1)

            let bystander = try await gateway.request(
                .post, "/v1/auth/login", json: ["email": other, "password": "secret-password"], headers: Self.forwarded(for: "203.0.113.1"))
            #expect(bystander.status == 200, "\(bystander.text)")
        }
    }

    @Test("verify draws on the account's budget too")
    func verifySharesAccountBudget() async throws {
        var environment = EmailVerificationTests.required
        environment["TRUSTED_PROXIES"] = Self.loopbackProxy
        environment["GATEWAY_LOGIN_ATTEMPTS_PER_ACCOUNT_PER_HOUR"] = "2"
        try await GatewayHarness.run(valkey: false, extraEnvironment: environment, options: EmailVerificationTests.validating) {
            gateway in
            let email = EmailVerificationTests.address("vic")
            _ = try await gateway.request(.post, "/v1/auth/register", json: ["email": email, "password": "vic-password"])
            let code = try EmailVerificationTests.code(for: email, in: gateway.double)
            #expect(try await Self.guess(gateway, from: "203.0.113.1", email: email).status == 401)
            let wrongPassword = try await gateway.request(
                .post, "/v1/auth/verify", json: ["email": email, "password": "not-vics", "code": code],
                headers: Self.forwarded(for: "203.0.113.2"))
            #expect(wrongPassword.status == 401, "\(wrongPassword.text)")
            let limited = try await gateway.request(
                .post, "/v1/auth/verify", json: ["email": email, "password": "vic-password", "code": code],
                headers: Self.forwarded(for: "203.0.113.3"))
            #expect(limited.status == 429, "\(limited.text)")
        }
    }

    @Test("the account's bucket in Valkey is named by a hash of the address, never the address")
    func accountKeyHoldsNoAddress() async throws {
        try await withRedisServer { server in
            try await GatewayHarness.run(extraEnvironment: ["VALKEY_URL": server.url]) { gateway in
                let email = "hash-\(UUID().uuidString.prefix(8).lowercased())@example.com"
                #expect(try await Self.guess(gateway, from: "203.0.113.1", email: email).status == 401)
                let keys = try await Self.keys(in: server.url)
                let digest = SHA256.hash(data: Array(email.utf8)).map { String(format: "%02x", $0) }.joined()
                #expect(keys.contains("sidecar:rate:auth:account:" + digest), "\(keys)")
                #expect(!keys.contains { $0.contains(email) || $0.contains("hash-") }, "\(keys)")
            }
        }
    }

    @Test("while Valkey is down, every register and login is 503 with Retry-After: right and wrong passwords look the same")
    func failsClosedDuringOutage() async throws {
        try await withRedisServer { server in
            let environment = ["VALKEY_URL": server.url, "VALKEY_CONNECT_TIMEOUT_MS": "300", "VALKEY_COMMAND_TIMEOUT_MS": "500"]
            try await GatewayHarness.run(extraEnvironment: environment) { gateway in
                let (email, _) = try await gateway.register("outage")
                let credentialsSeen = ["login", "acc"].map { gateway.double.receivedCount(kind: $0) }
                server.stop()
                let right = try await gateway.request(.post, "/v1/auth/login", json: ["email": email, "password": "secret-password"])
                let wrong = try await gateway.request(.post, "/v1/auth/login", json: ["email": email, "password": "wrong-password"])
                let register = try await gateway.request(
                    .post, "/v1/auth/register", json: ["email": "new-\(UUID())@example.com", "password": "secret-password"])
                for reply in [right, wrong, register] {
                    #expect(reply.status == 503 && reply.errorCode == "service_unavailable", "\(reply.status) \(reply.text)")
                    #expect(Int(reply.headers[HTTPField.Name("Retry-After")!] ?? "") ?? 0 >= 1)
                }
                #expect(right.text == wrong.text, "the answer tells nothing about the password")
                // Refused before anything reached Tinode: no password was tried, no account made.
                #expect(["login", "acc"].map { gateway.double.receivedCount(kind: $0) } == credentialsSeen)
            }
        }
    }

    /// Every key in the Valkey at `url`.
    private static func keys(in url: String) async throws -> [String] {
        var keys: [String] = []
        try await withValkeyClient(try ValkeyConfiguration(url: url)) { valkey in
            keys = try await valkey.command(["KEYS", "*"]).array?.compactMap(\.string) ?? []
        }
        return keys
    }
}
