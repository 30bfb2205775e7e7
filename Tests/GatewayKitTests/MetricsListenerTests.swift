import Foundation
import Hummingbird
import TestSupport
import Testing

@testable import GatewayKit

/// The Gateway's metrics are served on `GATEWAY_METRICS_ADDR` only: the API's port faces the
/// internet, and Prometheus text would tell it the Gateway's traffic and failures.
@Suite("Gateway metrics on their own listener", .timeLimit(.minutes(2)))
struct MetricsListenerTests {
    @Test("the API's port answers 404 for /metrics; GATEWAY_METRICS_ADDR serves them, and nothing else")
    func separateListener() async throws {
        let metricsPort = try freeLoopbackPort()
        try await GatewayHarness.run(extraEnvironment: ["GATEWAY_METRICS_ADDR": "127.0.0.1:\(metricsPort)"]) { gateway in
            #expect(try await gateway.request(.get, "/healthz").status == 200)
            let onAPIPort = try await gateway.request(.get, "/metrics")
            #expect(onAPIPort.status == 404)
            #expect(!onAPIPort.text.contains("# TYPE"))

            let metrics = try await Self.get("/metrics", port: metricsPort)
            #expect(metrics.hasPrefix("HTTP/1.1 200"), "\(metrics.prefix(200))")
            #expect(metrics.lowercased().contains("content-type: text/plain; version=0.0.4"))
            #expect(metrics.contains("# TYPE "))
            // The listener serves the metrics alone: not the API, not its health.
            #expect(try await Self.get("/healthz", port: metricsPort).hasPrefix("HTTP/1.1 404"))
            #expect(try await Self.get("/v1/me", port: metricsPort).hasPrefix("HTTP/1.1 404"))
        }
    }

    /// `GET path` on the loopback port, once it listens (the listener starts beside the API's).
    static func get(_ path: String, port: Int) async throws -> String {
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            do {
                let (text, _) = try await HostileHTTP.request(
                    port: port, "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                return text
            } catch  where ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }
}
