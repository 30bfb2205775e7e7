import Logging
import NIOCore
import Synchronization

/// The keys read with ``ValkeyClient/trackedGet(_:)`` whose ``TrackingLease`` runs, and the
/// subscription on which the server says they changed (server-assisted client-side caching,
/// `CLIENT TRACKING ... OPTIN` with `REDIRECT`).
///
/// The values are not kept here: a caller keeps what it read, typed as it needs it, beside the lease
/// (the token store's records live in SidecarCore's one cache of access tokens), and this type ends
/// the lease the moment the value may have changed. So a value is never held twice, and a caller's
/// hit costs no look-up here.
///
/// One extra connection subscribes to `__redis__:invalidate`; every tracked read goes out as
/// `CLIENT TRACKING ON REDIRECT <that connection> OPTIN`, `CLIENT CACHING YES`, `GET key` in one write, so
/// the server remembers the key for us and reports its next change (write, delete, expiry) on the
/// subscription. Leases are given only while that subscription is up; whenever it or a connection that
/// read keys closes, every lease ends, because reports for them may be lost.
///
/// A report can overtake the reply of the read it concerns (they travel on different connections), so a
/// read gets a lease only if no report arrived between sending it and its reply (`epoch`). Leases also
/// end after `maximumAge`, a bound for the rare report that never comes.
///
/// A lease is reported through this table only while it is the one held for its key, so whatever
/// takes a lease out of the table ends it first (a report, a newer read of the key, room for other
/// keys, a closed subscription): no lease outlives the means to end it.
///
/// A subscription can also die without its connection closing (a half-open TCP connection after a
/// network fault, a server that stopped answering): nothing then says that reports are lost. So the
/// subscription is pinged every `heartbeatInterval`; a ping without an answer within the command
/// timeout closes it, which ends every lease, as any other close does.
final class TrackedKeys: Sendable {
    enum ReadPlan {
        /// Read with tracking pointed at `redirect`, then ask for the lease with the `epoch` given.
        case tracked(redirect: Int64, epoch: UInt64)
        /// No subscription yet: read without a lease.
        case untracked
    }

    private enum Listener {
        case none(lastAttempt: ContinuousClock.Instant?)
        case opening
        case ready(id: Int64, connection: ValkeyConnection)
        case closed
    }

    private struct State {
        var leases: [String: TrackingLease] = [:]
        var epoch: UInt64 = 0
        var listener: Listener = .none(lastAttempt: nil)

        /// Every lease ends, and reads under way get none.
        mutating func endAll() {
            epoch &+= 1
            for lease in leases.values { lease.end() }
            leases.removeAll()
        }
    }

    static let channel = "__redis__:invalidate"
    /// Pause between attempts to open the subscription while the server is unreachable.
    static let retryInterval: Duration = .seconds(1)
    /// How often the subscription is checked with a PING.
    static let heartbeatInterval: Duration = .seconds(3)

    /// Keys tracked at most (``ValkeyConfiguration/cachedEntries``); 0 turns tracking off.
    let maximumEntries: Int
    let maximumAge: Duration
    private let state = Mutex(State())
    private let logger: Logger

    let heartbeatTimeout: Duration

    init(maximumEntries: Int, maximumAge: Duration, heartbeatTimeout: Duration, logger: Logger) {
        self.maximumEntries = maximumEntries
        self.maximumAge = maximumAge
        self.heartbeatTimeout = heartbeatTimeout
        self.logger = logger
    }

    var isEnabled: Bool { maximumEntries > 0 }

    /// How to read a key now; starts opening the subscription when it is missing.
    func plan(open: @escaping @Sendable () async throws -> (Int64, ValkeyConnection)) -> ReadPlan {
        let now = ContinuousClock.now
        let (plan, shouldOpen) = state.withLock { state -> (ReadPlan, Bool) in
            switch state.listener {
            case .ready(let id, _):
                return (.tracked(redirect: id, epoch: state.epoch), false)
            case .none(let lastAttempt):
                guard lastAttempt.map({ now - $0 >= Self.retryInterval }) ?? true else { return (.untracked, false) }
                state.listener = .opening
                return (.untracked, true)
            case .opening, .closed:
                return (.untracked, false)
            }
        }
        if shouldOpen { openListener(open) }
        return plan
    }

    /// The lease of a value just read with tracking on, or nil when a report arrived since the read
    /// was sent (the value may already be stale) or the subscription changed.
    func lease(for key: String, readAt epoch: UInt64) -> TrackingLease? {
        state.withLock { state in
            guard state.epoch == epoch, case .ready = state.listener else { return nil }
            if let previous = state.leases[key] {
                // One lease per key: the older one would no longer be ended by the key's report.
                previous.end()
            } else if state.leases.count >= maximumEntries {
                // Full: make room by ending an arbitrary tenth; their holders read them again when needed.
                for stale in Array(state.leases.keys.prefix(max(1, maximumEntries / 10))) {
                    state.leases.removeValue(forKey: stale)?.end()
                }
            }
            let lease = TrackingLease(maximumAge: maximumAge)
            state.leases[key] = lease
            return lease
        }
    }

    /// Whether a lease of `key` runs now (tests wait for this).
    func isLeased(_ key: String) -> Bool {
        state.withLock { state in
            guard case .ready = state.listener, let lease = state.leases[key] else { return false }
            return lease.isCurrent
        }
    }

    /// A message on the subscription: the keys that changed, or nil for "everything" (FLUSHALL, ...).
    func received(_ message: RESPValue) {
        guard case .array(let parts) = message, parts.count == 3 else { return }
        state.withLock { state in
            guard case .array(let keys) = parts[2] else {
                state.endAll()
                return
            }
            state.epoch &+= 1
            for key in keys {
                if let name = key.string { state.leases.removeValue(forKey: name)?.end() }
            }
        }
    }

    /// Ends the lease of one key, and keeps reads already under way from getting one.
    func invalidate(_ key: String) {
        state.withLock { state in
            state.epoch &+= 1
            state.leases.removeValue(forKey: key)?.end()
        }
    }

    /// Ends every lease: a connection that read keys, or the subscription, has closed.
    func invalidateAll() {
        state.withLock { $0.endAll() }
    }

    /// The subscription closed: no lease until a new one is up.
    func listenerClosed() {
        let wasClosed = state.withLock { state -> Bool in
            state.endAll()
            if case .closed = state.listener { return true }
            state.listener = .none(lastAttempt: .now)
            return false
        }
        if !wasClosed { logger.info("Valkey invalidation subscription closed; every tracking lease ended") }
    }

    /// Stops tracking for good and closes the subscription (client shutdown).
    func close() {
        let connection = state.withLock { state -> ValkeyConnection? in
            defer {
                state.listener = .closed
                state.endAll()
            }
            if case .ready(_, let connection) = state.listener { return connection }
            return nil
        }
        connection?.close()
    }

    private func openListener(_ open: @escaping @Sendable () async throws -> (Int64, ValkeyConnection)) {
        Task {
            do {
                let (id, connection) = try await open()
                let kept = state.withLock { state -> Bool in
                    guard case .opening = state.listener else { return false }
                    state.endAll()
                    state.listener = .ready(id: id, connection: connection)
                    return true
                }
                if kept {
                    logger.debug("Valkey invalidation subscription open", metadata: ["client_id": "\(id)"])
                    await heartbeat(connection)
                } else {
                    connection.close()
                }
            } catch {
                state.withLock { state in
                    if case .opening = state.listener { state.listener = .none(lastAttempt: .now) }
                }
                logger.debug("Could not open the Valkey invalidation subscription", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Pings the subscription until it is no longer the current one; closes it when a ping goes
    /// unanswered (its close handler then ends every lease).
    private func heartbeat(_ connection: ValkeyConnection) async {
        while true {
            try? await Task.sleep(for: Self.heartbeatInterval)
            let current = state.withLock { state -> Bool in
                if case .ready(_, let ready) = state.listener { return ready === connection }
                return false
            }
            guard current else { return }
            do {
                _ = try await connection.send([[Array("PING".utf8)]], timeout: heartbeatTimeout)
            } catch {
                logger.info("Valkey invalidation subscription did not answer a ping; closing it", metadata: ["error": "\(error)"])
                connection.close()
                return
            }
        }
    }
}
