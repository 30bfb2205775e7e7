import Foundation
import Hummingbird
import TestSupport
import Testing

@testable import GatewayKit

/// `/readyz` says which dependency failed, never its address or error (a store error names
/// Valkey's host and port); the detail goes to the log.
@Suite("Gateway readiness", .timeLimit(.minutes(2)))
struct ReadinessTests {
    @Test("with Valkey down: 503 naming token_store, without Valkey's address; the log has the detail")
    func namesTheFailedDependency() async throws {
        let logs = CapturedLogs()
        try await withRedisServer { server in
            let port = try #require(URLComponents(string: server.url)?.port)
            let environment = ["VALKEY_URL": server.url, "VALKEY_CONNECT_TIMEOUT_MS": "300", "VALKEY_COMMAND_TIMEOUT_MS": "500"]
            try await GatewayHarness.run(extraEnvironment: environment, logger: logs.logger(label: "Gateway")) { gateway in
                // Ready once the Gateway has reached the Tinode double.
                var ready = try await gateway.request(.get, "/readyz")
                for _ in 0..<50 where ready.status != 200 {
                    try await Task.sleep(for: .milliseconds(100))
                    ready = try await gateway.request(.get, "/readyz")
                }
                #expect(ready.status == 200)
                #expect(ready.json as NSDictionary? == ["status": "ready"])

                server.stop()
                let down = try await gateway.request(.get, "/readyz")
                #expect(down.status == 503)
                #expect(down.headers[.retryAfter] != nil)
                #expect(down.json?["status"] as? String == "not ready")
                #expect(down.json?["failed"] as? [String] == ["token_store"])
                #expect((down.json?["problems"] as? [String])?.count == 1)
                for detail in ["\(port)", "127.0.0.1", "redis", "Valkey", "error"] {
                    #expect(!down.text.contains(detail), "the answer shows \(detail): \(down.text)")
                }
            }
        }
        let detail = logs.all.filter { $0.contains("not ready: the token store does not answer") }
        #expect(!detail.isEmpty)
        #expect(detail.allSatisfy { $0.contains("error=") })
    }
}
