import Foundation
import Synchronization
import TinodeProto

/// Opens `MessageLoop` streams to Tinode. The production implementation is gRPC over HTTP/2
/// (``TinodeLink``); the seam keeps the session logic free of transport details.
public protocol TinodeStreamOpening: Sendable {
    /// Opens one stream (one Tinode session). `consume` is called once with the server's messages and
    /// reads them in order until they end (or throws); `onEnd` is called once when the call is over
    /// (nil: Tinode ended it with OK). Handing over the whole sequence lets the session read it on its
    /// own executor: one hop per message fewer than a per-message callback, which matters because every
    /// message in the room reaches every member's session.
    func openStream(
        consume: @escaping @Sendable (TinodeInbound) async throws -> Void,
        onEnd: @escaping @Sendable ((any Error)?) async -> Void
    ) -> TinodeStream
}

/// Where a stream's messages go once the call is open: the connector's side of ``TinodeStream``.
/// Each method is called at most once per message, in order, and never after `cancel`.
public protocol TinodeStreamWriter: Sendable {
    /// Sends a message (false when the call can take no more).
    func write(_ message: Pbx_ClientMsg) -> Bool
    /// Half-closes: no more messages.
    func finish()
    /// Ends the call at once.
    func cancel()
}

/// The client side of one `MessageLoop` call. The session sends on it at once; until the connector
/// has opened the call (``attach(_:)``) messages wait here, then go straight to the call's writer:
/// no queue and no task of its own between the session and the connection.
public final class TinodeStream: Sendable {
    private enum State {
        /// The call is being opened: what the session sent so far, and whether it half-closed.
        case opening(queued: [Pbx_ClientMsg], finished: Bool)
        case attached(any TinodeStreamWriter, finished: Bool)
        case cancelled
    }

    private let state = Mutex(State.opening(queued: [], finished: false))

    public init() {}

    /// Sends a message; false when the stream is closed (finished or cancelled).
    @discardableResult
    public func send(_ message: Pbx_ClientMsg) -> Bool {
        state.withLock { state in
            switch state {
            case .opening(var queued, false):
                queued.append(message)
                state = .opening(queued: queued, finished: false)
                return true
            case .attached(let writer, false):
                // Under the lock, so that two senders' messages reach the call in the order they were sent.
                return writer.write(message)
            case .opening, .attached, .cancelled:
                return false
            }
        }
    }

    /// Half-closes: Tinode sees the end of the client's messages and ends the session.
    public func finish() {
        state.withLock { state in
            switch state {
            case .opening(let queued, _):
                state = .opening(queued: queued, finished: true)
            case .attached(let writer, false):
                writer.finish()
                state = .attached(writer, finished: true)
            case .attached, .cancelled:
                break
            }
        }
    }

    /// Ends the call at once, without waiting for Tinode.
    public func cancel() {
        let writer = state.withLock { state -> (any TinodeStreamWriter)? in
            defer { state = .cancelled }
            if case .attached(let writer, _) = state { return writer }
            return nil
        }
        writer?.cancel()
    }

    /// The connector opened the call: what waited is written, in order, then every later message
    /// goes straight to `writer`. A stream cancelled meanwhile cancels the call at once.
    public func attach(_ writer: any TinodeStreamWriter) {
        let cancelled = state.withLock { state -> Bool in
            guard case .opening(let queued, let finished) = state else { return true }
            for message in queued where !writer.write(message) { break }
            if finished { writer.finish() }
            state = .attached(writer, finished: finished)
            return false
        }
        if cancelled { writer.cancel() }
    }
}
