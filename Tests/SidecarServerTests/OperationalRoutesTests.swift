import Hummingbird
import HummingbirdTesting
import Metrics
import Testing

@testable import SidecarServer

@Suite("Operational routes")
struct OperationalRoutesTests {
    @Test("GET /healthz answers 200 with a JSON status")
    func healthz() async throws {
        let router = Router()
        router.addOperationalRoutes()
        try await Application(router: router).test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/json")
                #expect(String(buffer: response.body) == #"{"status":"ok"}"#)
            }
        }
    }

    @Test("GET /metrics renders what the process recorded, in Prometheus text format")
    func metrics() async throws {
        Observability.bootstrap(logLevel: .error)
        Counter(label: "sidecar_test_events_total", dimensions: [("kind", "probe")]).increment(by: 3)
        let router = Router()
        router.addOperationalRoutes()
        try await Application(router: router).test(.router) { client in
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
                #expect(String(buffer: response.body).contains(#"sidecar_test_events_total{kind="probe"} 3"#))
            }
        }
    }
}
