import Foundation
import SidecarCore
import TestSupport
import Testing
import Valkey

/// Revocation with one meaning (issue "logout that logs out everywhere"): logout ends the login and
/// every access token it produced, logout-all and refresh-token reuse end every login of the user,
/// a refresh retires the token it replaces, and a user's logins and refreshes are bounded.
@Suite("Revocation: logout, logout-all, reuse, retired and capped logins", .timeLimit(.minutes(2)))
struct RevocationTests {
    static func login(_ gateway: GatewayHarness, _ email: String, password: String = "secret-password") async throws -> [String: Any] {
        let reply = try await gateway.request(.post, "/v1/auth/login", json: ["email": email, "password": password])
        #expect(reply.status == 200, "login: \(reply.text)")
        return try #require(reply.json)
    }

    static func status(_ gateway: GatewayHarness, token: Any?) async throws -> Int {
        try await gateway.request(.get, "/v1/me", token: try #require(token as? String)).status
    }

    static func refresh(_ gateway: GatewayHarness, _ tokens: [String: Any]) async throws -> GatewayHarness.Reply {
        try await gateway.request(.post, "/v1/auth/refresh", json: ["refresh_token": try #require(tokens["refresh_token"] as? String)])
    }

    @Test("logout with the refreshed token also ends the access token issued before the refresh")
    func logoutEndsTheWholeLogin() async throws {
        try await GatewayHarness.run(extraEnvironment: ["GATEWAY_REFRESH_GRACE_SECONDS": "60"]) { gateway in
            let (_, first) = try await gateway.register("lena")
            let refreshed = try #require(try await Self.refresh(gateway, first).json)
            // Within the grace both work: a request already under way with the old token is not cut.
            #expect(try await Self.status(gateway, token: first["access_token"]) == 200)
            #expect(try await Self.status(gateway, token: refreshed["access_token"]) == 200)
            let logout = try await gateway.request(.post, "/v1/auth/logout", token: try #require(refreshed["access_token"] as? String))
            #expect(logout.status == 204)
            #expect(try await Self.status(gateway, token: first["access_token"]) == 401, "the token from before the refresh is gone too")
            #expect(try await Self.status(gateway, token: refreshed["access_token"]) == 401)
            #expect(try await Self.refresh(gateway, refreshed).status == 401)
        }
    }

    @Test("a refresh retires the access token it replaces after the grace")
    func refreshRetiresThePreviousToken() async throws {
        try await GatewayHarness.run(extraEnvironment: ["GATEWAY_REFRESH_GRACE_SECONDS": "1"]) { gateway in
            let (_, first) = try await gateway.register("rita")
            let refreshed = try #require(try await Self.refresh(gateway, first).json)
            #expect(try await Self.status(gateway, token: first["access_token"]) == 200, "still inside the grace")
            try await Task.sleep(for: .milliseconds(1_600))
            #expect(try await Self.status(gateway, token: first["access_token"]) == 401, "retired")
            #expect(try await Self.status(gateway, token: refreshed["access_token"]) == 200)
        }
    }

    @Test("logout-all ends every login of the user, other devices' refresh tokens included, and marks the user's Tinode tokens")
    func logoutAll() async throws {
        try await GatewayHarness.run { gateway in
            let (email, phone) = try await gateway.register("ally")
            let laptop = try await Self.login(gateway, email)
            let userID = try #require(laptop["user_id"] as? String)
            let before = Date().addingTimeInterval(-1)
            let reply = try await gateway.request(.post, "/v1/auth/logout-all", token: try #require(laptop["access_token"] as? String))
            #expect(reply.status == 204)
            for tokens in [phone, laptop] {
                #expect(try await Self.status(gateway, token: tokens["access_token"]) == 401)
                #expect(try await Self.refresh(gateway, tokens).status == 401)
            }
            let valkeyURL = try #require(ProcessInfo.processInfo.environment["VALKEY_TEST_URL"])
            try await withValkeyClient(try ValkeyConfiguration(url: valkeyURL)) { valkey in
                let mark = try await ValkeyTinodeTokenRevocations(client: valkey, tokenLifetime: .seconds(1_209_600))
                    .revokedBefore(userID: userID)
                #expect(try #require(mark) >= before, "FireHose refuses Tinode tokens issued before this")
            }
            // Logging in again works: a new login starts after the mark.
            let again = try await Self.login(gateway, email)
            #expect(try await Self.status(gateway, token: again["access_token"]) == 200)
            #expect(try await Self.refresh(gateway, again).status == 200)
        }
    }

    @Test("refresh-token reuse ends every login of the user, not only the stolen family")
    func reuseEndsEveryLogin() async throws {
        try await GatewayHarness.run(extraEnvironment: ["GATEWAY_REFRESH_RETRY_SECONDS": "0"]) { gateway in
            let (email, first) = try await gateway.register("ruth")
            let other = try await Self.login(gateway, email)
            #expect(try await Self.refresh(gateway, first).status == 200)
            let reuse = try await Self.refresh(gateway, first)
            #expect(reuse.status == 401 && reuse.errorCode == "invalid_refresh_token")
            #expect(try await Self.status(gateway, token: other["access_token"]) == 401)
            #expect(try await Self.refresh(gateway, other).status == 401)
        }
    }

    @Test("a user keeps GATEWAY_MAX_LOGINS_PER_USER logins; one more revokes the oldest, refresh token included")
    func loginsCapped() async throws {
        try await GatewayHarness.run(extraEnvironment: ["GATEWAY_MAX_LOGINS_PER_USER": "2"]) { gateway in
            let (email, oldest) = try await gateway.register("cora")
            let middle = try await Self.login(gateway, email)
            let newest = try await Self.login(gateway, email)
            #expect(try await Self.status(gateway, token: oldest["access_token"]) == 401)
            #expect(try await Self.refresh(gateway, oldest).status == 401)
            #expect(try await Self.status(gateway, token: middle["access_token"]) == 200)
            #expect(try await Self.status(gateway, token: newest["access_token"]) == 200)
        }
    }

    @Test("refreshes are limited per login")
    func refreshesLimited() async throws {
        try await GatewayHarness.run(extraEnvironment: ["GATEWAY_REFRESHES_PER_MINUTE": "2"]) { gateway in
            let (_, tokens) = try await gateway.register("fritz")
            var current = tokens
            var statuses: [Int] = []
            for _ in 0..<3 {
                let reply = try await Self.refresh(gateway, current)
                statuses.append(reply.status)
                if reply.status == 200 { current = try #require(reply.json) }
            }
            #expect(statuses == [200, 200, 429], "\(statuses)")
        }
    }

    /// The claims of a JWT, read without checking it (the Gateway checks; the test compares ids).
    static func claims(_ token: Any?) throws -> [String: Any] {
        let text = try #require(token as? String)
        let parts = text.split(separator: ".")
        try #require(parts.count == 3)
        var payload = String(parts[1]).replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        payload += String(repeating: "=", count: (4 - payload.count % 4) % 4)
        let data = try #require(Data(base64Encoded: payload))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test("a refresh retried within GATEWAY_REFRESH_RETRY_SECONDS gets the same pair; presented after the next rotation it is a reuse")
    func refreshRetryGetsTheSamePair() async throws {
        try await GatewayHarness.run(extraEnvironment: ["GATEWAY_REFRESH_RETRY_SECONDS": "5"]) { gateway in
            let (_, first) = try await gateway.register("retry")
            // The first answer is "lost": the client sends the same refresh token again.
            let lost = try #require(try await Self.refresh(gateway, first).json)
            let retried = try await Self.refresh(gateway, first)
            #expect(retried.status == 200, "a retry, not a reuse: \(retried.text)")
            let again = try #require(retried.json)
            #expect(try Self.claims(again["refresh_token"])["jti"] as? String == (try Self.claims(lost["refresh_token"])["jti"] as? String))
            #expect(
                try Self.claims(again["access_token"])["access_id"] as? String
                    == (try Self.claims(lost["access_token"])["access_id"] as? String))
            #expect(try await Self.status(gateway, token: again["access_token"]) == 200)
            // The pair is the family's live one: it rotates.
            let next = try #require(try await Self.refresh(gateway, again).json)
            #expect(try await Self.status(gateway, token: next["access_token"]) == 200)
            // The first token was replaced two rotations ago: presenting it now is a reuse.
            #expect(try await Self.refresh(gateway, first).status == 401)
            #expect(try await Self.status(gateway, token: next["access_token"]) == 401, "the reuse ended every login")
        }
    }

    @Test("after the retry window a refresh token presented again is a reuse")
    func refreshRetryWindowCloses() async throws {
        try await GatewayHarness.run(extraEnvironment: ["GATEWAY_REFRESH_RETRY_SECONDS": "1"]) { gateway in
            let (_, first) = try await gateway.register("late-retry")
            let rotated = try #require(try await Self.refresh(gateway, first).json)
            try await Task.sleep(for: .milliseconds(1_300))
            #expect(try await Self.refresh(gateway, first).status == 401)
            #expect(try await Self.status(gateway, token: rotated["access_token"]) == 401)
        }
    }
}
