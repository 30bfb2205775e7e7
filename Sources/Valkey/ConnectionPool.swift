import Logging
import NIOCore
import Synchronization

/// A bounded set of hiredis connections, opened lazily and handed to one caller at a time.
///
/// Callers that find every connection busy wait (without blocking a thread) until one is released, their
/// task is cancelled, the wait times out, or the pool closes. A connection that failed at the I/O level is
/// discarded rather than returned, which frees its slot so that the next caller opens a fresh one: that is
/// how the client recovers after the server restarts.
final class ConnectionPool: Sendable {
    /// What a caller is allowed to do after waiting its turn.
    enum Grant: Sendable {
        case connection(HiredisConnection)
        /// A slot was reserved; the caller opens the connection itself.
        case create
    }

    private struct Waiter: Sendable {
        let id: UInt64
        let continuation: CheckedContinuation<Grant, any Error>
        let timer: Scheduled<Void>
    }

    private struct State: Sendable {
        var idle: [HiredisConnection] = []
        /// Connections that exist or are being opened, idle or leased; never above `maxConnections`.
        var open = 0
        /// Served first come, first served. Non-empty only while `open == maxConnections` and nothing is idle.
        var waiters: [Waiter] = []
        var nextWaiterID: UInt64 = 0
        var isClosed = false
    }

    private let maxConnections: Int
    /// Runs timers for waiters; the callbacks only take a lock and resume a continuation.
    private let eventLoop: any EventLoop
    private let connect: @Sendable () async throws -> HiredisConnection
    private let logger: Logger
    private let state = Mutex(State())

    init(
        maxConnections: Int,
        eventLoop: any EventLoop,
        logger: Logger,
        connect: @escaping @Sendable () async throws -> HiredisConnection
    ) {
        self.maxConnections = max(1, maxConnections)
        self.eventLoop = eventLoop
        self.logger = logger
        self.connect = connect
    }

    /// Returns a connection for the caller's exclusive use; hand it back with ``release(_:)`` or ``discard(_:)``.
    ///
    /// - Parameter timeout: How long to wait for a free slot when all connections are busy.
    /// - Throws: ``ValkeyError/timeout``, ``ValkeyError/poolClosed``, `CancellationError`, or whatever
    ///   opening a new connection fails with.
    func lease(timeout: Duration) async throws -> HiredisConnection {
        let deadline = NIODeadline.now() + TimeAmount(timeout)
        while true {
            try Task.checkCancellation()
            switch try await grant(deadline: deadline) {
            case .connection(let connection):
                if connection.isStale {
                    logger.debug("Discarding a pooled Valkey connection that the server closed")
                    discard(connection)
                    continue
                }
                return connection
            case .create:
                do {
                    let connection = try await connect()
                    logger.debug("Opened a Valkey connection")
                    return connection
                } catch {
                    freeSlot()
                    throw error
                }
            }
        }
    }

    /// Returns a healthy connection to the pool, or to the longest-waiting caller.
    func release(_ connection: HiredisConnection) {
        if connection.wasAborted {
            discard(connection)
            return
        }
        enum Action { case keep, close, hand(Waiter) }
        let action: Action = state.withLock { state in
            if state.isClosed {
                state.open -= 1
                return .close
            }
            if !state.waiters.isEmpty {
                return .hand(state.waiters.removeFirst())
            }
            state.idle.append(connection)
            return .keep
        }
        switch action {
        case .keep:
            break
        case .close:
            connection.close()
        case .hand(let waiter):
            waiter.timer.cancel()
            waiter.continuation.resume(returning: .connection(connection))
        }
    }

    /// Closes a connection that can no longer be trusted and frees its slot.
    func discard(_ connection: HiredisConnection) {
        connection.close()
        freeSlot()
    }

    /// Refuses new leases, fails all waiters with ``ValkeyError/poolClosed`` and closes idle connections.
    /// Leased connections are closed when they come back.
    func close() {
        let (idle, waiters) = state.withLock { state in
            state.isClosed = true
            let idle = state.idle
            let waiters = state.waiters
            state.idle = []
            state.waiters = []
            state.open -= idle.count
            return (idle, waiters)
        }
        for waiter in waiters {
            waiter.timer.cancel()
            waiter.continuation.resume(throwing: ValkeyError.poolClosed)
        }
        for connection in idle {
            connection.close()
        }
    }

    private func freeSlot() {
        let waiter: Waiter? = state.withLock { state in
            state.open -= 1
            guard !state.isClosed, !state.waiters.isEmpty else { return nil }
            // The freed slot goes straight to the longest waiter, which then opens the connection itself.
            state.open += 1
            return state.waiters.removeFirst()
        }
        if let waiter {
            waiter.timer.cancel()
            waiter.continuation.resume(returning: .create)
        }
    }

    private func grant(deadline: NIODeadline) async throws -> Grant {
        enum FirstLook { case granted(Grant), closed, wait(UInt64) }
        let firstLook: FirstLook = state.withLock { state in
            if state.isClosed { return .closed }
            if let connection = state.idle.popLast() { return .granted(.connection(connection)) }
            if state.open < maxConnections {
                state.open += 1
                return .granted(.create)
            }
            defer { state.nextWaiterID += 1 }
            return .wait(state.nextWaiterID)
        }
        let id: UInt64
        switch firstLook {
        case .granted(let grant): return grant
        case .closed: throw ValkeyError.poolClosed
        case .wait(let waiterID): id = waiterID
        }
        guard deadline > .now() else { throw ValkeyError.timeout }

        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Grant, any Error>) in
                let timer = eventLoop.scheduleTask(deadline: deadline) { [weak self] () -> Void in
                    self?.failWaiter(id, with: ValkeyError.timeout)
                }
                // Look again under the lock: things may have changed since the first look, and a cancellation
                // that arrived before this point found no waiter to fail, so it has to be noticed here.
                let immediate: Result<Grant, any Error>? = state.withLock { state in
                    if state.isClosed { return .failure(ValkeyError.poolClosed) }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if let connection = state.idle.popLast() { return .success(.connection(connection)) }
                    if state.open < maxConnections {
                        state.open += 1
                        return .success(.create)
                    }
                    state.waiters.append(Waiter(id: id, continuation: continuation, timer: timer))
                    return nil
                }
                if let immediate {
                    timer.cancel()
                    continuation.resume(with: immediate)
                }
            }
        } onCancel: {
            failWaiter(id, with: CancellationError())
        }
    }

    /// Fails a waiter that is still waiting; a waiter that was already served is left alone.
    private func failWaiter(_ id: UInt64, with error: any Error) {
        let waiter: Waiter? = state.withLock { state in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return state.waiters.remove(at: index)
        }
        if let waiter {
            waiter.timer.cancel()
            waiter.continuation.resume(throwing: error)
        }
    }
}
