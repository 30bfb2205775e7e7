import Metrics
import SidecarCore

/// The session layer's metrics, made once (a metric built per request costs a registry lookup).
public struct TinodeSessionMetrics: Sendable {
    /// Request kinds with a latency timer of their own.
    static let kinds = ["hi", "login", "acc", "sub", "leave", "pub", "get", "heartbeat"]

    let activeSessions = Gauge(label: "gateway_tinode_sessions_active")
    let reconnects = Counter(label: "gateway_tinode_reconnects_total")
    let timeouts = Counter(label: "gateway_tinode_request_timeouts_total")
    let evictions = Counter(label: "gateway_tinode_evictions_total")
    let slowSubscriberCutOffs = Counter(label: "gateway_live_subscribers_cut_off_total")
    let unaddressedReplies = Counter(label: "gateway_tinode_unaddressed_replies_total")
    let sessionsClosed = Counter(label: "gateway_tinode_sessions_closed_total")
    /// Streams that ended while the session used them (their connection was lost, Tinode ended the
    /// call): each is reconnected, but requests in flight on it fail or are retried.
    let streamsLost = Counter(label: "gateway_tinode_streams_lost_total")
    /// Reads (history, names) sent again on a new stream after the first one broke under them.
    let readsRetried = Counter(label: "gateway_tinode_reads_retried_total")
    private let latencies: [String: Timer]

    public init() {
        var latencies: [String: Timer] = [:]
        for kind in Self.kinds {
            latencies[kind] = Timer(label: "gateway_tinode_request_duration_seconds", dimensions: [("kind", kind)])
        }
        self.latencies = latencies
    }

    func recordLatency(kind: String, since start: ContinuousClock.Instant) {
        latencies[kind]?.recordInterval(since: start)
    }
}
