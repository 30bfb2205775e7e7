import NIOCore
import NIOHTTP2

/// Ends plugin-port connections that carry no call, and drains them at shutdown.
///
/// * **Idle**: a connection with no call in progress for `idleTimeout` gets a GOAWAY (no error,
///   naming the last stream it saw) and is closed. Tinode's gRPC client takes that as a clean end
///   and dials again for its next call. The clock runs from the connection's start, so this also
///   ends connections that never send the HTTP/2 preface, never call, or only send control frames
///   (PINGs, SETTINGS): the allow-list acts on calls, so such a peer could otherwise hold a
///   connection from anywhere.
/// * **Drain** (graceful shutdown): GOAWAY at once, then the close as soon as its last call ends.
///
/// Calls are counted through the HTTP/2 handler's stream delegate (``StreamCounter``).
final class PluginConnectionGuard: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    private let idleTimeout: TimeAmount
    private var context: ChannelHandlerContext?
    private var openStreams = 0
    private var lastStreamID = HTTP2StreamID.rootStream
    /// When the connection last had no call in progress.
    private var idleSince = NIODeadline.now()
    /// One timer per connection, moved on when it fires early, rather than one per call; nil while
    /// calls are in progress after it fired.
    private var idleCheck: Scheduled<Void>?
    private var draining = false

    init(idleTimeout: Duration) {
        self.idleTimeout = TimeAmount(idleTimeout)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        idleSince = .now()
        scheduleIdleCheck(at: idleSince + idleTimeout)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        idleCheck?.cancel()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleCheck?.cancel()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A connection error: the HTTP/2 handler has sent its GOAWAY; the connection is over.
        context.close(promise: nil)
    }

    func streamOpened(_ id: HTTP2StreamID) {
        openStreams += 1
        lastStreamID = max(lastStreamID, id)
    }

    func streamClosed() {
        openStreams -= 1
        guard openStreams == 0 else { return }
        if draining {
            context?.close(promise: nil)
        } else {
            idleSince = .now()
            if idleCheck == nil { scheduleIdleCheck(at: idleSince + idleTimeout) }
        }
    }

    /// Graceful shutdown: no new calls on this connection; closed when its calls have ended.
    func drain() {
        guard !draining, let context else { return }
        draining = true
        goAway(context)
        if openStreams == 0 { context.close(promise: nil) }
    }

    private func scheduleIdleCheck(at deadline: NIODeadline) {
        guard let context else { return }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        idleCheck = context.eventLoop.scheduleTask(deadline: deadline) { bound.value.idleCheckFired() }
    }

    private func idleCheckFired() {
        idleCheck = nil
        guard let context, openStreams == 0 else { return }  // the last call's end schedules the next check
        if NIODeadline.now() >= idleSince + idleTimeout {
            goAway(context)
            context.close(promise: nil)
        } else {
            scheduleIdleCheck(at: idleSince + idleTimeout)
        }
    }

    private func goAway(_ context: ChannelHandlerContext) {
        let frame = HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: lastStreamID, errorCode: .noError, opaqueData: nil))
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }

    /// Tells the guard about the connection's streams; the HTTP/2 handler calls it on the
    /// connection's event loop.
    struct StreamCounter: NIOHTTP2StreamDelegate {
        let guardHandler: NIOLoopBound<PluginConnectionGuard>

        func streamCreated(_ id: HTTP2StreamID, channel: any Channel) {
            guardHandler.value.streamOpened(id)
        }

        func streamClosed(_ id: HTTP2StreamID, channel: any Channel) {
            guardHandler.value.streamClosed()
        }
    }
}
