import Metrics
import Synchronization

/// The link's metrics: connections opened, failed and closed by reason. A connection ends rarely,
/// so its counter is made when needed (one registry lookup per close, not per message). The same
/// counts are kept for ``TinodeLink/statistics`` (tests and benchmarks read them in-process).
public struct TinodeLinkMetrics: Sendable {
    let connectionsOpened = Counter(label: "gateway_tinode_connections_opened_total")
    let connectFailures = Counter(label: "gateway_tinode_connect_failures_total")
    let keepalivePings = Counter(label: "gateway_tinode_keepalive_pings_total")
    fileprivate let counts = Counts()

    public init() {}

    func opened() {
        connectionsOpened.increment()
        counts.state.withLock { $0.opened += 1 }
    }

    func keepalivePingSent() {
        keepalivePings.increment()
        counts.state.withLock { $0.keepalivePings += 1 }
    }

    func closed(reason: TinodeConnectionCloseReason) {
        Counter(label: "gateway_tinode_connection_closed_total", dimensions: [("reason", reason.label)]).increment()
        counts.state.withLock { $0.closed[reason.label, default: 0] += 1 }
    }

    var statistics: TinodeLinkStatistics { counts.state.withLock { $0 } }

    fileprivate final class Counts: Sendable {
        let state = Mutex(TinodeLinkStatistics())
    }
}

/// Connections the link opened and closed, by the reason label of
/// ``TinodeConnectionCloseReason``.
public struct TinodeLinkStatistics: Sendable, Equatable {
    public var opened = 0
    public var closed: [String: Int] = [:]
    /// Keepalive PINGs sent (`TINODE_GRPC_KEEPALIVE_SECONDS`).
    public var keepalivePings = 0

    /// Connections that ended for any reason but our own close.
    public var lost: Int { closed.filter { $0.key != TinodeConnectionCloseReason.closedLocally.label }.values.reduce(0, +) }
}
