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

/// The client side of one `MessageLoop` call: a queue of outgoing messages and a way to end it.
/// The call itself runs in a task owned by the connector.
public final class TinodeStream: Sendable {
    /// Messages to send, in order; finishing it half-closes the call.
    public let outbound: AsyncStream<Pbx_ClientMsg>
    private let continuation: AsyncStream<Pbx_ClientMsg>.Continuation
    private let cancellation: Mutex<CancellationState>

    private enum CancellationState {
        case open(waiters: [CheckedContinuation<Void, Never>])
        case cancelled
    }

    public init() {
        (outbound, continuation) = AsyncStream.makeStream(of: Pbx_ClientMsg.self)
        cancellation = Mutex(.open(waiters: []))
    }

    /// Queues a message; false when the stream is closed.
    @discardableResult
    public func send(_ message: Pbx_ClientMsg) -> Bool {
        if case .enqueued = continuation.yield(message) { return true }
        return false
    }

    /// Half-closes: Tinode sees the end of the client's messages and ends the session.
    public func finish() {
        continuation.finish()
    }

    /// Ends the call at once, without waiting for Tinode.
    public func cancel() {
        continuation.finish()
        let waiters = cancellation.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard case .open(let waiters) = state else { return [] }
            state = .cancelled
            return waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once `cancel()` was called. The connector races the call against it.
    public func waitUntilCancelled() async {
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            let resumeNow = cancellation.withLock { state -> Bool in
                guard case .open(var waiters) = state else { return true }
                waiters.append(waiter)
                state = .open(waiters: waiters)
                return false
            }
            if resumeNow { waiter.resume() }
        }
    }
}
