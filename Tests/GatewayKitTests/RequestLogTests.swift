import Foundation
import Hummingbird
import Synchronization
import TestSupport
import Testing

@testable import GatewayKit

/// Request logs carry the path, never the query string: `GET /v1/ws?access_token=<JWT>` that is not
/// upgraded still reaches the router and its request log.
@Suite("No query string in the request log", .timeLimit(.minutes(2)))
struct RequestLogTests {
    @Test("a token in ?access_token= appears in no log line; the request is still logged, by its path")
    func queryNotLogged() async throws {
        let logs = CapturedLogs()
        let issued = Mutex<String?>(nil)
        try await GatewayHarness.run(logger: logs.logger(label: "Gateway")) { gateway in
            let (_, tokens) = try await gateway.register("querier")
            let token = try #require(tokens["access_token"] as? String)
            issued.withLock { $0 = token }
            // Not upgraded: a plain GET with the token in the query (426), and others that take a query.
            #expect(try await gateway.request(.get, "/v1/ws?access_token=\(token)&last_event_id=1").status == 426)
            _ = try await gateway.request(.get, "/v1/ws?access_token=forged-query-token-never-logged")
            _ = try await gateway.request(.get, "/v1/messages?limit=1&access_token=\(token)", token: token)
        }
        let lines = logs.all
        let token = try #require(issued.withLock { $0 })
        #expect(!lines.isEmpty)
        for secret in [token, "forged-query-token-never-logged", "access_token=", "last_event_id="] {
            #expect(!lines.contains { $0.contains(secret) }, "a log line shows \(secret)")
        }
        let wsRequests = lines.filter { $0.contains("Request") && $0.contains("hb.request.path=/v1/ws") }
        #expect(wsRequests.count == 2, "\(lines.filter { $0.contains("Request") })")
    }
}
