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
/// * **Refused peers** (outside `AUTHPLUGIN_ALLOWED_NETWORKS`): their first call is answered
///   (`PERMISSION_DENIED`), a GOAWAY names it as the last stream served, and the connection closes
///   once the answer is out. Every call such a peer makes is refused, so nothing it could still send
///   would be served; kept open, it could hold its place with one call per idle period for ever.
/// * **Errors** (a protocol error on the connection or on one stream): a single GOAWAY naming the
///   last call taken; the calls in flight are answered, then the connection closes.
/// * **Abuse** that NIO's HTTP/2 handler detects (more than its share of RST_STREAM frames, the
///   rapid reset of CVE-2023-44487; of stream errors; of empty DATA or CONTINUATION frames): NIO
///   has sent GOAWAY `ENHANCE_YOUR_CALM` naming no stream as served, so the connection is closed
///   at once rather than drained.
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

    /// Why the guard ended a connection early, for metrics and logs.
    enum CutReason: String, Sendable, CaseIterable {
        case refusedCaller = "refused_caller"
        case resetFlood = "reset_flood"
        case protocolAbuse = "protocol_abuse"
    }

    private let idleTimeout: TimeAmount
    /// Whether the peer is inside `AUTHPLUGIN_ALLOWED_NETWORKS`.
    private let peerAllowed: Bool
    /// Called once, on the event loop, when the guard ends the connection for a ``CutReason``.
    private let onCut: (CutReason) -> Void
    private var cutReported = false
    private var context: ChannelHandlerContext?
    /// Calls in progress (streams the peer opened that are not closed yet).
    private(set) var openStreams = 0
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

    init(idleTimeout: Duration, peerAllowed: Bool = true, onCut: @escaping (CutReason) -> Void = { _ in }) {
        self.idleTimeout = TimeAmount(idleTimeout)
        goAwayPingTimeout = TimeAmount(min(idleTimeout, .seconds(10)))
        self.peerAllowed = peerAllowed
        self.onCut = onCut
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
    /// with a single GOAWAY naming the last call taken: the calls in flight still get their answers,
    /// then the connection closes. Not the two-step close: after a connection error NIO stops
    /// reading at the first frame it cannot place, so the PING's answer may never reach us. Abuse
    /// ends the connection at once.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let reason = Self.abuse(error) {
            cutOff(reason)
        } else {
            endAfterError()
        }
    }

    /// The connection errors of NIO's denial-of-service rules, after which NIO has already sent
    /// GOAWAY `ENHANCE_YOUR_CALM`.
    static func abuse(_ error: any Error) -> CutReason? {
        switch error {
        case is NIOHTTP2Errors.ExcessiveRSTFrames:
            .resetFlood
        case is NIOHTTP2Errors.ExcessiveStreamErrors, is NIOHTTP2Errors.ExcessiveNumberOfGlitches,
            is NIOHTTP2Errors.ExcessiveEmptyDataFrames, is NIOHTTP2Errors.ExcessiveContinuationFrames,
            is NIOHTTP2Errors.ExcessiveControlFrames:
            .protocolAbuse
        default:
            nil
        }
    }

    func streamOpened(_ id: HTTP2StreamID) {
        openStreams += 1
        lastStreamID = max(lastStreamID, id)
        if !peerAllowed { refuseFurtherCalls() }
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

    /// A refused peer's first call: no other call is taken, and the connection closes when the calls
    /// opened so far are answered. The GOAWAY waits until the read that opened the call is processed,
    /// so that streams opened in the same read are named as served, and answered.
    private func refuseFurtherCalls() {
        guard case .serving = phase, let context else { return }
        phase = .closing
        idleCheck?.cancel()
        reportCut(.refusedCaller)
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.execute {
            let guardHandler = bound.value
            guard let context = guardHandler.context, context.channel.isActive, guardHandler.openStreams > 0 else { return }
            context.writeAndFlush(guardHandler.wrapOutboundOut(guardHandler.goAway(lastStreamID: guardHandler.lastStreamID)), promise: nil)
        }
    }

    /// No new calls; the connection closes once the calls in flight are answered.
    private func endAfterError() {
        guard let context else { return }
        switch phase {
        case .closing:
            return
        case .serving, .awaitingPingAck:
            phase = .closing
            idleCheck?.cancel()
            pingDeadline?.cancel()
        }
        if openStreams == 0 {
            closeAfterGoAway()
        } else {
            context.writeAndFlush(wrapOutboundOut(goAway(lastStreamID: lastStreamID)), promise: nil)
        }
    }

    /// Closes the connection at once (after NIO's GOAWAY, which is flushed first).
    private func cutOff(_ reason: CutReason) {
        guard let context else { return }
        phase = .closing
        idleCheck?.cancel()
        pingDeadline?.cancel()
        reportCut(reason)
        // NIO holds back its flushes while it reads: close once this read is over.
        let channel = context.channel
        context.eventLoop.execute {
            channel.flush()
            channel.close(promise: nil)
        }
    }

    private func reportCut(_ reason: CutReason) {
        guard !cutReported else { return }
        cutReported = true
        onCut(reason)
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
