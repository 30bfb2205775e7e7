import Logging
import NIOCore
import Synchronization

/// Up to `maxConnections` shared connections, opened when needed.
///
/// Every command goes to the open connection with the fewest commands waiting; a new connection is opened
/// only while every open one is busy and the limit is not reached. Broken connections are dropped as soon
/// as they are noticed, so the next command opens a fresh one: that is how the client recovers after the
/// server restarts. Callers that arrive while the only possible connections are still being opened wait
/// for those attempts and share their outcome, which makes an unreachable server fail every caller fast.
final class ConnectionPool: Sendable {
    private enum Entry {
        case opening(id: UInt64, attempt: Task<ValkeyConnection, any Error>)
        case open(ValkeyConnection)

        func isOpening(id wanted: UInt64) -> Bool {
            if case .opening(let id, _) = self { id == wanted } else { false }
        }
    }

    private enum Choice {
        case use(ValkeyConnection)
        case wait(Task<ValkeyConnection, any Error>)
    }

    private struct State {
        var entries: [Entry] = []
        var nextID: UInt64 = 0
        var isClosed = false
    }

    private let maxConnections: Int
    private let connect: @Sendable () async throws -> ValkeyConnection
    private let logger: Logger
    private let state = Mutex(State())

    init(
        maxConnections: Int,
        logger: Logger,
        connect: @escaping @Sendable () async throws -> ValkeyConnection
    ) {
        self.maxConnections = max(1, maxConnections)
        self.logger = logger
        self.connect = connect
    }

    /// A connection with one command reserved on it (see ``ValkeyConnection/reserve()``).
    ///
    /// - Throws: ``ValkeyError/poolClosed`` after ``close(within:)``, or whatever opening a new connection
    ///   fails with.
    func connection() async throws -> ValkeyConnection {
        switch try choose() {
        case .use(let connection):
            return connection
        case .wait(let attempt):
            let connection = try await attempt.value
            connection.reserve()
            return connection
        }
    }

    private func choose() throws(ValkeyError) -> Choice {
        try state.withLock { state throws(ValkeyError) -> Choice in
            if state.isClosed { throw .poolClosed }
            state.entries.removeAll { entry in
                if case .open(let connection) = entry { connection.isClosed } else { false }
            }
            var quietest: ValkeyConnection?
            var firstAttempt: Task<ValkeyConnection, any Error>?
            for entry in state.entries {
                switch entry {
                case .open(let connection):
                    if quietest.map({ connection.pendingCount < $0.pendingCount }) ?? true {
                        quietest = connection
                    }
                case .opening(_, let attempt):
                    if firstAttempt == nil { firstAttempt = attempt }
                }
            }
            let atLimit = state.entries.count >= maxConnections
            if let quietest, quietest.pendingCount == 0 || atLimit {
                quietest.reserve()
                return .use(quietest)
            }
            if atLimit, let firstAttempt {
                return .wait(firstAttempt)
            }
            let id = state.nextID
            state.nextID += 1
            let attempt = Task { try await self.open(id: id) }
            state.entries.append(.opening(id: id, attempt: attempt))
            return .wait(attempt)
        }
    }

    /// Opens a connection for the entry `id` and records the outcome, whoever ends up waiting for it.
    private func open(id: UInt64) async throws -> ValkeyConnection {
        let connection: ValkeyConnection
        do {
            connection = try await connect()
        } catch {
            let closed = state.withLock { state in
                state.entries.removeAll { $0.isOpening(id: id) }
                return state.isClosed
            }
            // An attempt cut short by closing the pool reports the closing, not the interruption.
            throw closed ? ValkeyError.poolClosed : error
        }
        let kept = state.withLock { state in
            guard !state.isClosed, let index = state.entries.firstIndex(where: { $0.isOpening(id: id) }) else {
                return false
            }
            state.entries[index] = .open(connection)
            return true
        }
        guard kept else {
            connection.close()
            throw ValkeyError.poolClosed
        }
        logger.debug("Opened a Valkey connection")
        return connection
    }

    /// Refuses new commands, lets commands already sent finish for at most `gracePeriod`, then closes every
    /// connection. Safe to call more than once.
    func close(within gracePeriod: Duration) async {
        let connections = state.withLock { state in
            state.isClosed = true
            return state.entries.compactMap { entry -> ValkeyConnection? in
                if case .open(let connection) = entry { connection } else { nil }
            }
        }
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: gracePeriod)
        while connections.contains(where: { $0.pendingCount > 0 && !$0.isClosed }), clock.now < deadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
        closeNow()
    }

    /// Refuses new commands and closes every connection at once; waiting commands fail.
    func closeNow() {
        let entries = state.withLock { state in
            state.isClosed = true
            defer { state.entries.removeAll() }
            return state.entries
        }
        for entry in entries {
            switch entry {
            case .open(let connection): connection.close()
            case .opening(_, let attempt): attempt.cancel()
            }
        }
    }
}
