import Foundation
import Hummingbird
import TestSupport
import Testing

@testable import GatewayKit

/// Valkey down must look like "try again", never like a logout.
@Suite("Gateway when Valkey is down", .timeLimit(.minutes(2)))
struct StoreOutageTests {
    @Test("a valid token gets 503 with Retry-After while Valkey is down, and works again after")
    func outageIsNotLogout() async throws {
        try await withRedisServer { server in
            let environment = [
                "VALKEY_URL": server.url, "VALKEY_CONNECT_TIMEOUT_MS": "300", "VALKEY_COMMAND_TIMEOUT_MS": "500",
            ]
            try await GatewayHarness.run(extraEnvironment: environment) { gateway in
                let (_, tokens) = try await gateway.register("outage")
                let token = try #require(tokens["access_token"] as? String)
                #expect(try await gateway.request(.get, "/v1/me", token: token).status == 200)

                server.stop()
                let down = try await gateway.request(.get, "/v1/me", token: token)
                #expect(down.status == 503)
                #expect(down.errorCode == "service_unavailable")
                #expect(down.headers[.init("Retry-After")!] != nil)
                #expect(try await gateway.request(.get, "/readyz").status == 503)

                try await server.start()
                var status = 503
                for _ in 0..<50 where status == 503 {
                    status = try await gateway.request(.get, "/v1/me", token: token).status
                    if status == 503 { try await Task.sleep(for: .milliseconds(100)) }
                }
                // Recovered without a restart of the Gateway. The test server came back empty (it
                // persists nothing), so the token's record is gone and the honest answer is now 401.
                #expect(status == 401)
                #expect(try await gateway.request(.get, "/readyz").status == 200)
            }
        }
    }
}
