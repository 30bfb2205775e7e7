import Metrics
import SidecarCore

/// REST-auth's counters and timers, made once: building a metric per request costs a registry
/// lookup under a lock and a label string on the hot path.
struct RESTAuthMetrics: Sendable {
    /// Endpoint labels: the eight endpoints and `unknown`.
    static let endpoints = RESTAuthEndpoint.allCases.map(\.rawValue) + ["unknown"]
    /// Result labels: `ok` and every error we answer.
    static let results = ["ok", "internal", "malformed", "failed", "expired", "duplicate value", "unsupported", "not found"]

    private let requests: [String: Counter]
    private let durations: [String: Timer]
    let refused = Counter(label: "authplugin_rest_refused_total")

    init() {
        var requests: [String: Counter] = [:]
        var durations: [String: Timer] = [:]
        for endpoint in Self.endpoints {
            durations[endpoint] = Timer(label: "authplugin_rest_request_duration_seconds", dimensions: [("endpoint", endpoint)])
            for result in Self.results {
                requests[endpoint + "|" + result] = Counter(
                    label: "authplugin_rest_requests_total", dimensions: [("endpoint", endpoint), ("result", result)])
            }
        }
        self.requests = requests
        self.durations = durations
    }

    func record(endpoint: String, result: String, since start: ContinuousClock.Instant) {
        requests[endpoint + "|" + result]?.increment()
        durations[endpoint]?.recordInterval(since: start)
    }
}
