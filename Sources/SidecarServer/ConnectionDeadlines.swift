import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import SidecarCore

/// How long an HTTP client may take, on both programs' HTTP servers.
///
/// Hummingbird's own idle timeout only sees decoded requests, so a client that sends its headers
/// one byte a second (slowloris) or trickles a body would hold a connection for ever. These
/// deadlines are kept by a handler in front of everything else on the connection, TLS included.
public struct HTTPConnectionDeadlines: Sendable, Equatable {
    /// A whole request, headers and body, must arrive within this time of its first byte.
    public var request: Duration
    /// A connection without a request in progress is closed after this time.
    public var idle: Duration

    public init(request: Duration = .seconds(10), idle: Duration = .seconds(60)) {
        self.request = request
        self.idle = idle
    }

    /// The handler that follows request boundaries; goes in the HTTP/1 channel's
    /// `additionalChannelHandlers`, after the HTTP decoder.
    public static func requestBoundaryHandlers() -> [any RemovableChannelHandler] {
        [RequestBoundaryHandler()]
    }

    /// Stops the deadlines of a connection that leaves HTTP (an accepted WebSocket upgrade, which has
    /// its own liveness rules).
    public static func stop(on channel: any Channel) async {
        try? await channel.pipeline.removeHandler(name: ConnectionDeadlineHandler.name)
    }
}

/// Wraps an HTTP child channel (plain, TLS or with WebSocket upgrades) so that each connection
/// gets the deadlines. The base channel must include `HTTPConnectionDeadlines.requestBoundaryHandlers()`.
public struct DeadlineChildChannel<Base: ServerChildChannel>: ServerChildChannel {
    public typealias Value = Base.Value

    let base: Base
    let deadlines: HTTPConnectionDeadlines

    public init(_ base: Base, deadlines: HTTPConnectionDeadlines) {
        self.base = base
        self.deadlines = deadlines
    }

    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(
                ConnectionDeadlineHandler(deadlines: deadlines, logger: logger), name: ConnectionDeadlineHandler.name,
                position: .first)
        }.flatMap {
            base.setup(channel: channel, logger: logger)
        }
    }

    public func handle(value: Base.Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 with the connection deadlines.
    public static func http1(deadlines: HTTPConnectionDeadlines) -> HTTPServerBuilder {
        .init { responder in
            DeadlineChildChannel(
                HTTP1Channel(
                    responder: responder,
                    configuration: .init(additionalChannelHandlers: HTTPConnectionDeadlines.requestBoundaryHandlers())),
                deadlines: deadlines)
        }
    }
}

/// What the request-boundary handler tells the deadline handler (outbound user events travel
/// from the back of the pipeline to its front).
enum RequestBoundary {
    case requestStarted
    case requestEnded
    case responseEnded
}

/// Sits after the HTTP decoder and reports where requests and responses begin and end.
final class RequestBoundaryHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: context.triggerUserOutboundEvent(RequestBoundary.requestStarted, promise: nil)
        case .body: break
        case .end: context.triggerUserOutboundEvent(RequestBoundary.requestEnded, promise: nil)
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let isEnd = if case .end = unwrapOutboundIn(data) { true } else { false }
        context.write(data, promise: promise)
        if isEnd { context.triggerUserOutboundEvent(RequestBoundary.responseEnded, promise: nil) }
    }
}

/// First in the pipeline, on raw bytes: closes a connection whose request does not arrive in
/// time, and one that stays idle too long.
///
/// States: idle (idle deadline armed), reading a request (request deadline armed from its first
/// byte, never extended by later bytes), answering (no deadline: handlers and streamed responses
/// such as SSE take as long as they take).
///
/// It also closes connections on graceful shutdown (`ChannelShouldQuiesceEvent`): at once when no
/// request has reached the application (idle, or only part of a request head), else once the
/// answers are out. Hummingbird's own handler does this only once a first
/// request has been decoded, and the WebSocket-upgrade pipeline adds it only then, so a connection
/// opened just before SIGTERM that has not sent anything yet would otherwise hold the shutdown
/// until the idle deadline.
final class ConnectionDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = Any
    typealias OutboundOut = Any

    static let name = "sidecar.connection-deadlines"

    private let deadlines: HTTPConnectionDeadlines
    private let logger: Logger
    private var readingRequest = false
    /// Requests read completely minus responses finished; below zero when a response (413) went
    /// out before the client finished sending its request.
    private var unanswered = 0
    private var timer: Scheduled<Void>?
    private var timerIsRequestDeadline = false
    /// Graceful shutdown has begun: close as soon as nothing is in progress.
    private var quiescing = false
    /// A request's head has been decoded and its end not yet: the application has it.
    private var requestHeadDecoded = false

    init(deadlines: HTTPConnectionDeadlines, logger: Logger) {
        self.deadlines = deadlines
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { armIdle(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        armIdle(context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelTimer()
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelTimer()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            quiescing = true
            // Bytes of a request whose head is not decoded yet (or of a TLS handshake, or a request
            // under TLS: this handler sees them encrypted) reached no handler of ours: nothing to
            // lose, close as for an idle connection, as NIO's own HTTP server does.
            if unanswered <= 0, !requestHeadDecoded {
                Self.closeAsIfClientLeft(context)
                return
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Closes a connection as if its client had left: end of input first, which the handlers behind
    /// treat as an ordinary end (a bare close would make the WebSocket upgrade handler, still waiting
    /// for a first request, log an error), then the close itself.
    static func closeAsIfClientLeft(_ context: ChannelHandlerContext) {
        context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        if context.channel.isActive { context.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Bytes while nothing is in progress start a request (or a TLS handshake, which is part of it).
        if !readingRequest, unanswered <= 0 { startRequest(context) }
        context.fireChannelRead(data)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard let boundary = event as? RequestBoundary else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        switch boundary {
        case .requestStarted:
            requestHeadDecoded = true
            // A pipelined request whose bytes arrived while the previous one was being answered.
            if !readingRequest { startRequest(context) }
        case .requestEnded:
            requestHeadDecoded = false
            readingRequest = false
            unanswered += 1
            cancelTimer()
            if isIdle { becameIdle(context) }
        case .responseEnded:
            unanswered -= 1
            if isIdle { becameIdle(context) }
        }
        promise?.succeed()
    }

    private var isIdle: Bool { !readingRequest && unanswered <= 0 }

    private func becameIdle(_ context: ChannelHandlerContext) {
        guard quiescing else { return armIdle(context) }
        // The answer's last part is written but not yet flushed (the flush follows in the same
        // event-loop turn): close on the next turn so that it goes out first.
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.eventLoop.execute { Self.closeAsIfClientLeft(loopBound.value) }
    }

    private func startRequest(_ context: ChannelHandlerContext) {
        readingRequest = true
        if timer != nil, timerIsRequestDeadline { return }
        arm(context, after: deadlines.request, isRequestDeadline: true)
    }

    private func armIdle(_ context: ChannelHandlerContext) {
        arm(context, after: deadlines.idle, isRequestDeadline: false)
    }

    private func arm(_ context: ChannelHandlerContext, after delay: Duration, isRequestDeadline: Bool) {
        cancelTimer()
        timerIsRequestDeadline = isRequestDeadline
        let nanoseconds = delay.components.seconds * 1_000_000_000 + delay.components.attoseconds / 1_000_000_000
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: .nanoseconds(nanoseconds)) {
            let (handler, context) = loopBound.value
            handler.timer = nil
            if isRequestDeadline {
                handler.logger.notice(
                    "HTTP request not received in time; connection closed",
                    metadata: ["peer": "\(context.remoteAddress?.description ?? "unknown")"])
            } else {
                handler.logger.debug("idle HTTP connection closed")
            }
            Self.closeAsIfClientLeft(context)
        }
    }

    private func cancelTimer() {
        timer?.cancel()
        timer = nil
    }
}

@available(*, unavailable)
extension ConnectionDeadlineHandler: Sendable {}

@available(*, unavailable)
extension RequestBoundaryHandler: Sendable {}

extension HTTPConnectionDeadlines {
    /// `HTTP_REQUEST_TIMEOUT_SECONDS` and `HTTP_IDLE_TIMEOUT_SECONDS`.
    public init(_ configuration: SidecarConfiguration) {
        self.init(request: configuration.httpRequestTimeout, idle: configuration.httpIdleTimeout)
    }
}
