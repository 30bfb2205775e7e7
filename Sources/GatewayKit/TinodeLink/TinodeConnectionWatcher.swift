import NIOCore
import NIOHTTP2

/// The last handler of a Tinode connection's pipeline: learns why the connection ends (Tinode's
/// GOAWAY, an HTTP/2 or socket error) and, when configured, sends keepalive PINGs.
///
/// It runs on the connection's event loop and reports to its ``TinodeLinkConnection``, which keeps
/// the first reason it hears: the GOAWAY that precedes a close explains it better than the close.
final class TinodeConnectionWatcher: ChannelDuplexHandler {
    typealias InboundIn = HTTP2Frame
    typealias OutboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    /// Our keepalive PINGs, told apart from the ACKs of anything else by their data.
    static let keepalivePing = HTTP2PingData(withInteger: 0x7469_6e6f_6465_6b61)

    private let connection: TinodeLinkConnection
    private let keepalive: Keepalive?
    private var context: ChannelHandlerContext?
    private var keepaliveTimer: Scheduled<Void>?
    private var ackDeadline: Scheduled<Void>?
    private var recentError: (TinodeConnectionCloseReason, NIODeadline)?

    /// gRPC's client keepalive: a PING every `interval` while a call is open, and the connection is
    /// closed when one is not answered within `timeout`.
    struct Keepalive {
        var interval: TimeAmount
        var timeout: TimeAmount
    }

    init(connection: TinodeLinkConnection, keepalive: Keepalive?) {
        self.connection = connection
        self.keepalive = keepalive
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        scheduleKeepalive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stopTimers()
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data).payload {
        case .goAway(_, let code, let opaque):
            let debug = opaque.map { String(buffer: $0) } ?? ""
            connection.peerSentGoAway(code: code, debug: String(debug.prefix(200)))
        case .ping(let ping, ack: true) where ping == Self.keepalivePing:
            ackDeadline?.cancel()
            ackDeadline = nil
        default:
            break
        }
        context.fireChannelRead(data)
    }

    /// NIO reports here both connection errors and, with the same types, errors of single streams,
    /// which it has already reset and which must not end the other users' streams. For a connection
    /// error NIO sends its GOAWAY but leaves the closing to us: the errors that can only be connection
    /// errors (floods, unparseable frames) close it at once; any other HTTP/2 error only explains a
    /// close that follows closely (a grpc-go peer closes the connection after a GOAWAY naming no
    /// stream). A socket error ends the connection.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard error is any NIOHTTP2Error else {
            connection.noteCloseReason(.ioError("\(error)"))
            context.close(promise: nil)
            return
        }
        let reason = TinodeConnectionCloseReason.http2Error(code: Self.code(of: error), description: "\(error)")
        if Self.alwaysEndsConnection(error) {
            connection.noteCloseReason(reason)
            context.close(promise: nil)
        } else {
            recentError = (reason, .now())
        }
    }

    private static func alwaysEndsConnection(_ error: any Error) -> Bool {
        switch error {
        case is NIOHTTP2Errors.ExcessiveControlFrames, is NIOHTTP2Errors.ExcessiveRSTFrames,
            is NIOHTTP2Errors.ExcessiveEmptyDataFrames, is NIOHTTP2Errors.ExcessiveStreamErrors,
            is NIOHTTP2Errors.ExcessiveContinuationFrames, is NIOHTTP2Errors.ExcessivelyLargeHeaderBlock,
            is NIOHTTP2Errors.UnableToParseFrame, is NIOHTTP2Errors.ExcessiveOutboundFrameBuffering:
            true
        default:
            false
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        stopTimers()
        if let (reason, at) = recentError, NIODeadline.now() - at < .seconds(1) {
            connection.noteCloseReason(reason)
        }
        connection.noteCloseReason(.peerClosed)  // kept only when nothing explained the end before
        context.fireChannelInactive()
    }

    private func stopTimers() {
        keepaliveTimer?.cancel()
        ackDeadline?.cancel()
        keepaliveTimer = nil
        ackDeadline = nil
    }

    private func scheduleKeepalive() {
        guard let keepalive, let context else { return }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        keepaliveTimer = context.eventLoop.scheduleTask(in: keepalive.interval) { bound.value.keepaliveDue() }
    }

    private func keepaliveDue() {
        guard let keepalive, let context, context.channel.isActive else { return }
        // Like gRPC's clients without `permitWithoutCalls`: Tinode's default policy refuses PINGs on a
        // connection without calls.
        if connection.openStreams > 0, ackDeadline == nil {
            let ping = HTTP2Frame(streamID: .rootStream, payload: .ping(Self.keepalivePing, ack: false))
            context.writeAndFlush(wrapOutboundOut(ping), promise: nil)
            connection.keepalivePingSent()
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            ackDeadline = context.eventLoop.scheduleTask(in: keepalive.timeout) { bound.value.keepaliveUnanswered() }
        }
        scheduleKeepalive()
    }

    private func keepaliveUnanswered() {
        ackDeadline = nil
        connection.noteCloseReason(.keepaliveTimeout)
        context?.close(promise: nil)
    }

    /// The HTTP/2 error code of a NIO error, where it names one.
    private static func code(of error: any Error) -> HTTP2ErrorCode? {
        switch error {
        case is NIOHTTP2Errors.ExcessiveControlFrames, is NIOHTTP2Errors.ExcessiveRSTFrames,
            is NIOHTTP2Errors.ExcessiveEmptyDataFrames, is NIOHTTP2Errors.ExcessiveStreamErrors:
            .enhanceYourCalm
        case is NIOHTTP2Errors.FlowControlViolation, is NIOHTTP2Errors.InvalidFlowControlWindowSize:
            .flowControlError
        default:
            .protocolError
        }
    }
}
