import NIOCore
import NIOHTTP2

/// Ends plugin-port connections that carry no call, and drains them at shutdown.
///
/// * **Idle**: a connection with no call in progress for `idleTimeout` is closed gracefully.
///   Tinode's gRPC client takes that as a clean end and dials again for its next call. The clock
///   runs from the connection's start, so this also ends connections that never send the HTTP/2
///   preface, never call, or only send control frames (PINGs, SETTINGS): the allow-list acts on
///   calls, so such a peer could otherwise hold a connection from anywhere.
/// * **Drain** (graceful shutdown): the same graceful close at once.
///
/// The graceful close is HTTP/2's two-step GOAWAY (RFC 9113, 6.8): a GOAWAY that still admits every
/// stream, with a PING; once the PING is answered, every call the peer sent before it saw the GOAWAY
/// has arrived, and a second GOAWAY names the last stream served. The connection closes when those
/// calls have been answered. Closing at once would race a call the peer is sending at that moment,
/// which it would see fail. A peer that does not answer the PING within `goAwayPingTimeout` is closed.
///
/// Calls are counted through the HTTP/2 handler's stream delegate (``StreamCounter``).
final class PluginConnectionGuard: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    private let idleTimeout: TimeAmount
    private var context: ChannelHandlerContext?
    private var openStreams = 0
    /// The last stream the peer opened, for a GOAWAY (this guard's, and ``ControlFramePolicer``'s).
    private(set) var lastStreamID = HTTP2StreamID.rootStream
    /// When the connection last had no call in progress.
    private var idleSince = NIODeadline.now()
    /// One timer per connection, moved on when it fires early, rather than one per call; nil while
    /// calls are in progress after it fired.
    private var idleCheck: Scheduled<Void>?
    private var phase = Phase.serving
    private var pingDeadline: Scheduled<Void>?
    private let goAwayPingTimeout: TimeAmount

    private enum Phase {
        case serving
        /// The first GOAWAY and its PING are out.
        case awaitingPingAck
        /// The final GOAWAY is out; closes when no call is left.
        case closing
    }

    /// The PING that follows the first GOAWAY, told apart from the peer's own PINGs by its data.
    private static let goAwayPing = HTTP2PingData(withInteger: 0x676f_6177_6179_0001)

    init(idleTimeout: Duration) {
        self.idleTimeout = TimeAmount(idleTimeout)
        goAwayPingTimeout = TimeAmount(min(idleTimeout, .seconds(10)))
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        idleSince = .now()
        scheduleIdleCheck(at: idleSince + idleTimeout)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        idleCheck?.cancel()
        pingDeadline?.cancel()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleCheck?.cancel()
        pingDeadline?.cancel()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .ping(let ping, ack: true) = unwrapInboundIn(data).payload, ping == Self.goAwayPing {
            finishGoAway()
        }
        context.fireChannelRead(data)
    }

    /// The HTTP/2 handler reports connection errors here (after its own GOAWAY) and, with the same
    /// error types, the errors of single streams, which it has already reset. Both end the connection
    /// gracefully: the other calls in flight still get their answers, and a peer too broken to answer
    /// the PING is closed after `goAwayPingTimeout`.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        beginGoAway()
    }

    func streamOpened(_ id: HTTP2StreamID) {
        openStreams += 1
        lastStreamID = max(lastStreamID, id)
    }

    func streamClosed() {
        openStreams -= 1
        guard openStreams == 0 else { return }
        switch phase {
        case .closing:
            // Called while the HTTP/2 handler writes the last call's trailers: close once they are out.
            guard let context else { return }
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            context.eventLoop.execute { bound.value.closeAfterGoAway() }
        case .awaitingPingAck:
            break
        case .serving:
            idleSince = .now()
            if idleCheck == nil { scheduleIdleCheck(at: idleSince + idleTimeout) }
        }
    }

    /// Graceful shutdown: no new calls on this connection; closed when its calls have ended.
    func drain() {
        beginGoAway()
    }

    private func scheduleIdleCheck(at deadline: NIODeadline) {
        guard let context else { return }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        idleCheck = context.eventLoop.scheduleTask(deadline: deadline) { bound.value.idleCheckFired() }
    }

    private func idleCheckFired() {
        idleCheck = nil
        guard case .serving = phase, openStreams == 0 else { return }  // the last call's end schedules the next check
        if NIODeadline.now() >= idleSince + idleTimeout {
            beginGoAway()
        } else {
            scheduleIdleCheck(at: idleSince + idleTimeout)
        }
    }

    /// The first GOAWAY (every stream still admitted) and its PING.
    private func beginGoAway() {
        guard case .serving = phase, let context else { return }
        phase = .awaitingPingAck
        idleCheck?.cancel()
        context.write(wrapOutboundOut(goAway(lastStreamID: .maxID)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(HTTP2Frame(streamID: .rootStream, payload: .ping(Self.goAwayPing, ack: false))), promise: nil)
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        pingDeadline = context.eventLoop.scheduleTask(in: goAwayPingTimeout) { bound.value.finishGoAway() }
    }

    /// The PING was answered (or never will be): the final GOAWAY, and the close once no call is left.
    private func finishGoAway() {
        guard case .awaitingPingAck = phase, let context else { return }
        phase = .closing
        pingDeadline?.cancel()
        if openStreams == 0 {
            closeAfterGoAway()
        } else {
            context.writeAndFlush(wrapOutboundOut(goAway(lastStreamID: lastStreamID)), promise: nil)
        }
    }

    /// The final GOAWAY, then the close once it is written: the HTTP/2 handler holds back its flushes
    /// while it reads, and a close at once would drop what it holds (the last answers, the GOAWAY).
    private func closeAfterGoAway() {
        guard let context, context.channel.isActive else { return }
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(goAway(lastStreamID: lastStreamID)), promise: written)
        let channel = context.channel
        written.futureResult.whenComplete { _ in channel.close(promise: nil) }
    }

    private func goAway(lastStreamID: HTTP2StreamID) -> HTTP2Frame {
        HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: lastStreamID, errorCode: .noError, opaqueData: nil))
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
