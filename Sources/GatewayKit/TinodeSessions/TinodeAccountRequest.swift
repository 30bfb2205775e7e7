import Foundation
import NIOCore
import NIOPosix
import Synchronization
import TinodeProto

/// One request on a stream of its own that never logs in: `hi`, the request, its ctrl, and the
/// stream ends. For what a user without a working login asks of Tinode (a new confirmation code),
/// so that no pooled session is made for an account that cannot use one.
struct TinodeAccountRequest: Sendable {
    let connector: any TinodeStreamOpening
    let settings: TinodeSessionSettings
    /// Where the deadline runs (an event-loop timer, as for every request).
    var timers: any EventLoop = MultiThreadedEventLoopGroup.singleton.any()

    /// Sends `build(id)` after `hi` and returns Tinode's ctrl for it; throws `.timeout` when it does
    /// not come within the request timeout, `.unavailable` when the stream ends first, and the
    /// rejection of a `hi` Tinode refused.
    func send(kind: String, _ build: @Sendable (String) -> Pbx_ClientMsg) async throws -> Pbx_ServerCtrl {
        let (replies, continuation) = AsyncStream.makeStream(of: Pbx_ServerCtrl.self, bufferingPolicy: .bufferingNewest(8))
        let stream = connector.openStream(
            consume: { inbound in
                for try await message in inbound {
                    if case .ctrl(let ctrl)? = message.message { continuation.yield(ctrl) }
                }
                continuation.finish()
            },
            onEnd: { _ in continuation.finish() })
        defer { stream.cancel() }
        let helloID = "1"
        let requestID = "2"
        stream.send(ClientMessages.hi(id: helloID, version: settings.protocolVersion, userAgent: settings.userAgent))
        stream.send(build(requestID))
        // Twice the request timeout: `hi` and the request share it.
        let timedOut = Mutex(false)
        let deadline = timers.scheduleTask(in: TinodeSession.timeAmount(settings.requestTimeout * 2)) {
            timedOut.withLock { $0 = true }
            continuation.finish()
        }
        defer { deadline.cancel() }
        for await ctrl in replies {
            if ctrl.id == requestID { return ctrl }
            if ctrl.id == helloID, !ctrl.isSuccess { throw ctrl.rejection }
        }
        if timedOut.withLock({ $0 }) { throw TinodeSessionError.timeout }
        throw TinodeSessionError.unavailable(retryAfter: .seconds(1))
    }
}
