import Synchronization
import TinodeProto

/// The shared state behind its mutex, and the operations the gRPC side and the public API need.
/// No lock is ever held across a suspension point: each call locks, runs to completion, unlocks.
final class World: Sendable {
    let state: Mutex<WorldState>
    let options: TinodeDouble.Options

    init(options: TinodeDouble.Options) {
        self.options = options
        state = Mutex(WorldState(options: options))
    }

    /// A new session for a new stream; nil while the double is stopping.
    func openSession() -> SessionHandle? {
        let outbox = Outbox(limit: options.sendQueueLimit)
        let stopSignal = StopSignal()
        let id = state.withLock { $0.openSession(outbox: outbox, stopSignal: stopSignal) }
        return id.map { SessionHandle(id: $0, outbox: outbox, stopSignal: stopSignal) }
    }

    /// Milliseconds since the epoch, from the configured time source.
    func now() -> Int64 {
        options.time.nowMillis()
    }

    func closeSession(_ id: Int) {
        let now = now()
        state.withLock { $0.closeSession(id, now: now) }
    }

    func receive(_ message: Pbx_ClientMsg, session id: Int) -> WorldState.ReceiveOutcome {
        let now = now()
        return state.withLock { $0.receive(message, on: id, now: now) }
    }

    /// Refuses new streams and tells every open one to fail.
    func stopAllSessions() {
        let signals = state.withLock { state -> [StopSignal] in
            state.acceptsStreams = false
            return state.sessions.values.map(\.stopSignal)
        }
        for signal in signals { signal.fire(stop: true) }
    }

    func acceptSessions() {
        state.withLock { $0.acceptsStreams = true }
    }
}

/// What a stream handler needs of its session.
struct SessionHandle: Sendable {
    let id: Int
    let outbox: Outbox
    let stopSignal: StopSignal
}
