import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import TinodeDouble

@testable import GatewayKit

/// Two Gateways behind one load balancer share Valkey and Tinode: a user can land on either.
@Suite("Two Gateway instances", .timeLimit(.minutes(2)))
struct TwoInstancesTests {
    @Test("tokens from one instance work on the other; messages, refresh and logout cross over")
    func sharedState() async throws {
        // A used refresh token presented again at once must count as reuse here, not as a retry.
        try await GatewayHarness.runTwo(extraEnvironment: ["GATEWAY_REFRESH_RETRY_SECONDS": "0"]) { a, b in
            let (email, tokens) = try await a.register("twin")
            let access = try #require(tokens["access_token"] as? String)
            let refresh = try #require(tokens["refresh_token"] as? String)

            let sent = try await b.request(.post, "/v1/messages", json: ["text": "via the second"], token: access)
            #expect(sent.status == 201)
            let history = try await a.request(.get, "/v1/messages", token: access)
            let texts = (history.json?["messages"] as? [[String: Any]])?.compactMap { $0["text"] as? String }
            #expect(texts == ["via the second"])

            let refreshed = try await b.request(.post, "/v1/auth/refresh", json: ["refresh_token": refresh])
            #expect(refreshed.status == 200)
            #expect(try await a.request(.post, "/v1/auth/refresh", json: ["refresh_token": refresh]).status == 401)

            // That reuse ended every login of the user, seen from both instances.
            let newAccess = try #require(refreshed.json?["access_token"] as? String)
            #expect(try await b.request(.get, "/v1/me", token: newAccess).status == 401)

            let again = try await b.request(.post, "/v1/auth/login", json: ["email": email, "password": "secret-password"])
            let againAccess = try #require(again.json?["access_token"] as? String)
            #expect(try await a.request(.post, "/v1/auth/logout", token: againAccess).status == 204)
            #expect(try await b.request(.get, "/v1/me", token: againAccess).status == 401)
        }
    }
}
