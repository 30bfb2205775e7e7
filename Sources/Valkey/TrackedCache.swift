import Logging
import NIOCore
import Synchronization

/// Values read with ``ValkeyClient/cachedGet(_:)``, kept in memory and dropped the moment the server
/// says they changed (server-assisted client-side caching, `CLIENT TRACKING ... OPTIN` with `REDIRECT`).
///
/// One extra connection subscribes to `__redis__:invalidate`; every cached read goes out as
/// `CLIENT TRACKING ON REDIRECT <that connection> OPTIN`, `CLIENT CACHING YES`, `GET key` in one write, so
/// the server remembers the key for us and reports its next change (write, delete, expiry) on the
/// subscription. The cache only serves while that subscription is up; whenever it or a connection that
/// read keys closes, everything cached is dropped, because reports for it may be lost.
///
/// A report can overtake the reply of the read it concerns (they travel on different connections), so a
/// read only fills the cache if no report arrived between sending it and storing its value (`epoch`).
/// Entries also expire after `maximumAge`, a bound for the rare report that never comes.
///
/// A subscription can also die without its connection closing (a half-open TCP connection after a
/// network fault, a server that stopped answering): nothing then says that reports are lost. So the
/// subscription is pinged every `heartbeatInterval`; a ping without an answer within the command
/// timeout closes it, which drops everything cached, as any other close does.
final class TrackedCache: Sendable {
    enum Lookup {
        case hit([UInt8]?)
        /// Read through the server with tracking pointed at `redirect`; store with the `epoch` given.
        case miss(redirect: Int64, epoch: UInt64)
        /// No subscription yet: read without caching.
        case bypass
    }

    private struct Entry {
        let value: [UInt8]?
        let storedAt: ContinuousClock.Instant
    }

    private enum Listener {
        case none(lastAttempt: ContinuousClock.Instant?)
        case opening
        case ready(id: Int64, connection: ValkeyConnection)
        case closed
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var epoch: UInt64 = 0
        var listener: Listener = .none(lastAttempt: nil)
    }

    static let channel = "__redis__:invalidate"
    /// Pause between attempts to open the subscription while the server is unreachable.
    static let retryInterval: Duration = .seconds(1)
    /// How often the subscription is checked with a PING.
    static let heartbeatInterval: Duration = .seconds(3)

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

    /// The cached value, or how to read it; starts opening the subscription when it is missing.
    func lookup(_ key: String, open: @escaping @Sendable () async throws -> (Int64, ValkeyConnection)) -> Lookup {
        let now = ContinuousClock.now
        let (lookup, shouldOpen) = state.withLock { state -> (Lookup, Bool) in
            switch state.listener {
            case .ready(let id, _):
                if let entry = state.entries[key], now - entry.storedAt < maximumAge {
                    return (.hit(entry.value), false)
                }
                return (.miss(redirect: id, epoch: state.epoch), false)
            case .none(let lastAttempt):
                guard lastAttempt.map({ now - $0 >= Self.retryInterval }) ?? true else { return (.bypass, false) }
                state.listener = .opening
                return (.bypass, true)
            case .opening, .closed:
                return (.bypass, false)
            }
        }
        if shouldOpen { openListener(open) }
        return lookup
    }

    /// Keeps a value read with tracking on, unless a report arrived since the read was sent.
    /// Whether a read of `key` would be answered from memory now (tests wait for this).
    func holds(_ key: String) -> Bool {
        state.withLock { state in
            guard case .ready = state.listener, let entry = state.entries[key] else { return false }
            return ContinuousClock.now - entry.storedAt < maximumAge
        }
    }

    func store(_ key: String, value: [UInt8]?, epoch: UInt64) {
        state.withLock { state in
            guard state.epoch == epoch, case .ready = state.listener else { return }
            if state.entries.count >= maximumEntries, state.entries[key] == nil {
                // Full: make room by forgetting an arbitrary tenth; they are read again when needed.
                let drop = max(1, maximumEntries / 10)
                for stale in state.entries.keys.prefix(drop) { state.entries[stale] = nil }
            }
            state.entries[key] = Entry(value: value, storedAt: .now)
        }
    }

    /// A message on the subscription: the keys that changed, or nil for "everything" (FLUSHALL, ...).
    func received(_ message: RESPValue) {
        guard case .array(let parts) = message, parts.count == 3 else { return }
        state.withLock { state in
            state.epoch &+= 1
            if case .array(let keys) = parts[2] {
                for key in keys { if let name = key.string { state.entries[name] = nil } }
            } else {
                state.entries.removeAll()
            }
        }
    }

    /// Drops one key, and keeps reads already under way from storing what they read before.
    func forget(_ key: String) {
        state.withLock { state in
            state.epoch &+= 1
            state.entries[key] = nil
        }
    }

    /// Drops everything cached: a connection that read keys, or the subscription, has closed.
    func forgetAll() {
        state.withLock { state in
            state.epoch &+= 1
            state.entries.removeAll()
        }
    }

    /// The subscription closed: serve nothing from memory until a new one is up.
    func listenerClosed() {
        let wasClosed = state.withLock { state -> Bool in
            state.epoch &+= 1
            state.entries.removeAll()
            if case .closed = state.listener { return true }
            state.listener = .none(lastAttempt: .now)
            return false
        }
        if !wasClosed { logger.info("Valkey invalidation subscription closed; cached values dropped") }
    }

    /// Stops caching for good and closes the subscription (client shutdown).
    func close() {
        let connection = state.withLock { state -> ValkeyConnection? in
            defer {
                state.listener = .closed
                state.entries.removeAll()
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
                    state.epoch &+= 1
                    state.entries.removeAll()
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
    /// unanswered (its close handler then drops the cache).
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
