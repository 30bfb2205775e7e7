import Synchronization
import TinodeProto

/// The shared state behind its mutex, and the operations the gRPC side and the public API need.
/// No lock is ever held across a suspension point: each call locks, runs to completion, unlocks.
final class World: Sendable {
    let state: Mutex<WorldState>
    let options: TinodeDouble.Options
    /// With `Options.restAuth`: the HTTP side of `{login scheme:"rest"}`.
    let restAuth: RESTAuthClient?

    init(options: TinodeDouble.Options) {
        self.options = options
        state = Mutex(WorldState(options: options))
        restAuth = options.restAuth.map(RESTAuthClient.init(settings:))
    }

    /// A new session for a new stream from `remoteAddress` (`ip:port`); nil while the double is stopping.
    func openSession(remoteAddress: String) -> SessionHandle? {
        let outbox = Outbox(limit: options.sendQueueLimit)
        let stopSignal = StopSignal()
        let id = state.withLock { $0.openSession(outbox: outbox, stopSignal: stopSignal, remoteAddress: remoteAddress) }
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

    /// Handles one client message. A `rest` login suspends here, without the lock, while the
    /// REST-auth server answers; the stream's next message waits for it, as in Tinode.
    func receive(_ message: Pbx_ClientMsg, session id: Int) async -> WorldState.ReceiveOutcome {
        let now = now()
        let outcome = state.withLock { $0.receive(message, on: id, now: now) }
        guard case .awaitsRESTAuth(let pending) = outcome else { return outcome }
        await logInThroughREST(pending)
        return .handled
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
