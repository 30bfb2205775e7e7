import NIOCore
import NIOHTTP2

/// Applies a ``ControlFrameBudget`` to one HTTP/2 connection. It sits in the connection's pipeline
/// after NIO's `NIOHTTP2Handler`, which hands every frame of stream 0 that it accepts (PING,
/// SETTINGS, GOAWAY, WINDOW_UPDATE) and every PRIORITY frame on to it. NIO drops ALTSVC and ORIGIN
/// frames itself, unanswered, so they never reach this handler: only NIO's own rate limit (the
/// backstop, ``HTTP2FloodLimits``) counts those.
///
/// * Inbound PING, SETTINGS and PRIORITY frames spend the budget (acknowledgements too, as in NIO's
///   own rule: an unsolicited ACK costs the same to process).
/// * Outbound PING and SETTINGS frames written through this pipeline earn their acknowledgement.
/// * DATA frames we send earn through ``OutboundDataCredit``, a handler in each stream's pipeline.
///
/// On a flood it reports the kind of frame, sends GOAWAY `ENHANCE_YOUR_CALM` and closes the
/// connection. NIO's own rate limit stays as a backstop against raw frame rates far beyond any gRPC
/// peer's (``HTTP2FloodLimits``).
public final class ControlFramePolicer: ChannelDuplexHandler {
    public typealias InboundIn = HTTP2Frame
    public typealias InboundOut = HTTP2Frame
    public typealias OutboundIn = HTTP2Frame
    public typealias OutboundOut = HTTP2Frame

    /// The kinds of control frame the budget covers, for metrics and logs.
    public enum FrameKind: String, Sendable {
        case ping, pingAck = "ping_ack", settings, settingsAck = "settings_ack", priority, alternativeService = "altsvc", origin
    }

    private var budget: ControlFrameBudget
    private let lastPeerStreamID: () -> HTTP2StreamID
    private let onFlood: (FrameKind) -> Void
    private var flooded = false

    /// - Parameters:
    ///   - lastPeerStreamID: the last stream the peer opened that was processed, for the GOAWAY
    ///     (`.rootStream` on a client, whose peer opens none).
    ///   - onFlood: called once, on the event loop, before the connection is closed.
    public init(
        limits: ControlFrameBudget.Limits, lastPeerStreamID: @escaping () -> HTTP2StreamID = { .rootStream },
        onFlood: @escaping (FrameKind) -> Void
    ) {
        budget = ControlFrameBudget(limits: limits)
        self.lastPeerStreamID = lastPeerStreamID
        self.onFlood = onFlood
    }

    /// Credit for frames we sent that the peer may answer with a control frame (called on the
    /// connection's event loop, by ``OutboundDataCredit``).
    public func earn(_ frames: Int) {
        budget.earn(frames)
    }

    /// Earned credit not yet spent (for tests).
    public var earnedCredit: Int { budget.earned }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !flooded else { return }
        let frame = unwrapInboundIn(data)
        if let kind = Self.controlKind(of: frame.payload), !budget.spend(now: .now()) {
            flooded = true
            onFlood(kind)
            let goAway = HTTP2Frame(
                streamID: .rootStream,
                payload: .goAway(
                    lastStreamID: lastPeerStreamID(), errorCode: .enhanceYourCalm,
                    opaqueData: context.channel.allocator.buffer(string: "too many control frames")))
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(goAway)).whenComplete { _ in channel.close(promise: nil) }
            return
        }
        context.fireChannelRead(data)
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data).payload {
        case .ping(_, ack: false), .settings(.settings):
            budget.earn(1)
        default:
            break
        }
        context.write(data, promise: promise)
    }

    static func controlKind(of payload: HTTP2Frame.FramePayload) -> FrameKind? {
        switch payload {
        case .ping(_, let ack): ack ? .pingAck : .ping
        case .settings(.settings): .settings
        case .settings(.ack): .settingsAck
        case .priority: .priority
        case .alternativeService: .alternativeService
        case .origin: .origin
        case .data, .headers, .rstStream, .goAway, .pushPromise, .windowUpdate: nil
        }
    }
}

/// Earns the connection's ``ControlFramePolicer`` one credit per DATA frame a stream sends. It sits
/// in each stream channel's pipeline, nearest the connection, so it sees every outbound frame of the
/// stream. A message larger than the peer's frame size leaves as several frames, each of which a
/// grpc-go peer may answer with a PING, so the credit counts frames of at most `maximumFrameSize`.
public final class OutboundDataCredit: ChannelOutboundHandler {
    public typealias OutboundIn = HTTP2Frame.FramePayload
    public typealias OutboundOut = HTTP2Frame.FramePayload

    private let policer: NIOLoopBound<ControlFramePolicer>
    private let maximumFrameSize: Int

    /// - Parameter maximumFrameSize: the peer's SETTINGS_MAX_FRAME_SIZE as far as we know it; 16 KiB
    ///   (HTTP/2's default and grpc-go's) errs on the side of more credit.
    public init(policer: NIOLoopBound<ControlFramePolicer>, maximumFrameSize: Int = 16_384) {
        self.policer = policer
        self.maximumFrameSize = maximumFrameSize
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .data(let frame) = unwrapOutboundIn(data) {
            let bytes = frame.data.readableBytes
            policer.value.earn(max(1, (bytes + maximumFrameSize - 1) / maximumFrameSize))
        }
        context.write(data, promise: promise)
    }
}

/// NIO's HTTP/2 flood settings for our links.
public enum HTTP2FloodLimits {
    /// NIO's control-frame rate limit as a backstop behind ``ControlFramePolicer``: a count per short
    /// window, far above any gRPC peer's rate (20,000 control frames per second) but low enough to
    /// bound the CPU a flood can take. NIO keeps one timestamp per counted frame, preallocated, so the
    /// count (not the window) sets its memory per connection: 2,000 x 8 bytes.
    public static func applyBackstop(to configuration: inout NIOHTTP2Handler.ConnectionConfiguration) {
        configuration.controlFrameRateLimit.maximumCount = 2_000
        configuration.controlFrameRateLimit.windowLength = .milliseconds(100)
    }
}
