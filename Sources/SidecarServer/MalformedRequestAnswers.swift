import Foundation
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// Answers a request that the HTTP parser cannot read (more than 1 000 headers, more than 80 KiB of
/// them, broken syntax) with 400 and the given JSON body, then ends the connection.
///
/// Hummingbird's plain HTTP/1 channel does this on its own; its WebSocket-upgrade channel, which the
/// Gateway serves, drops the parser's error and leaves the client waiting until the request
/// deadline closes the connection without a word. This wraps such a channel and puts a handler
/// right behind its HTTP decoder, where the parser's errors arrive.
///
/// Once it answered, the wrapped channel's complaints about the broken connection (HummingbirdWebSocket
/// logs its failed upgrade negotiation as an error) are logged at debug: the client sent what the
/// parser refuses, we answered it, and an error line per such request would let anyone fill the log.
public struct MalformedRequestAnswering<Base: ServerChildChannel>: ServerChildChannel {
    public struct Value: ServerChildChannelValue {
        let base: Base.Value
        let answered: MalformedRequestFlag
        public var channel: any Channel { base.channel }
    }

    let base: Base
    let body: Data

    /// - Parameter body: the JSON of the 400 (the program's own error format).
    public init(_ base: Base, body: Data) {
        self.base = base
        self.body = body
    }

    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        base.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let pipeline = channel.pipeline.syncOperations
            let decoder = try pipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            let answered = MalformedRequestFlag()
            try pipeline.addHandler(
                MalformedRequestAnswer(body: body, answered: answered), name: MalformedRequestAnswer.name, position: .after(decoder))
            return Value(base: value, answered: answered)
        }
    }

    public func handle(value: Value, logger: Logger) async {
        var connectionLogger = logger
        connectionLogger.handler = DemotedAfterMalformedRequest(base: logger.handler, answered: value.answered)
        await base.handle(value: value.base, logger: connectionLogger)
    }

    /// Takes the handler out of a connection that leaves HTTP (an accepted WebSocket upgrade): it
    /// reads HTTP response parts, and WebSocket frames would be none.
    public static func stop(on channel: any Channel) async {
        try? await channel.pipeline.removeHandler(name: MalformedRequestAnswer.name)
    }
}

/// Behind the HTTP decoder: on the parser's error, a 400 with the error body when no answer
/// is under way (otherwise the connection can only be closed), then the end of our output. The
/// input is not closed at once: bytes the client is still sending (the rest of a header flood)
/// would make the kernel reset the connection, and the client could lose the answer; the request
/// deadline or the client's own close ends it.
final class MalformedRequestAnswer: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    static let name = "sidecar.malformed-request-answer"

    private let body: Data
    private let answeredFlag: MalformedRequestFlag
    private var responseUnderWay = false
    private var answered = false

    init(body: Data, answered: MalformedRequestFlag) {
        self.body = body
        self.answeredFlag = answered
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard error is HTTPParserError, !answered else {
            context.fireErrorCaught(error)
            return
        }
        answered = true
        answeredFlag.set()
        guard !responseUnderWay else {
            context.close(promise: nil)
            return
        }
        let buffer = context.channel.allocator.buffer(bytes: body)
        let headers = HTTPHeaders([
            ("Content-Type", "application/json"), ("Content-Length", String(buffer.readableBytes)), ("Connection", "close"),
        ])
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .badRequest, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            let context = loopBound.value
            // Half-close (TCP, and TLS with a close_notify); a full close where a channel cannot.
            let halfClosed = context.eventLoop.makePromise(of: Void.self)
            context.close(mode: .output, promise: halfClosed)
            halfClosed.futureResult.whenFailure { _ in loopBound.value.close(promise: nil) }
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head) where head.status.code >= 200: responseUnderWay = true
        case .head, .body: break
        case .end: responseUnderWay = false
        }
        context.write(data, promise: promise)
    }
}

@available(*, unavailable)
extension MalformedRequestAnswer: Sendable {}

/// Whether a connection's request was refused by the parser (and answered with 400).
public final class MalformedRequestFlag: Sendable {
    private let value = Atomic(false)

    init() {}

    func set() { value.store(true, ordering: .relaxed) }
    var isSet: Bool { value.load(ordering: .relaxed) }
}

/// A connection's log handler that, once the connection's request was refused as malformed, logs
/// what would have been errors or warnings at debug.
struct DemotedAfterMalformedRequest: LogHandler {
    var base: any LogHandler
    let answered: MalformedRequestFlag

    var logLevel: Logger.Level {
        get { base.logLevel }
        set { base.logLevel = newValue }
    }

    var metadata: Logger.Metadata {
        get { base.metadata }
        set { base.metadata = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { base[metadataKey: key] }
        set { base[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        guard answered.isSet, event.level > .debug else {
            base.log(event: event)
            return
        }
        guard base.logLevel <= .debug else { return }
        var demoted = event
        demoted.level = .debug
        base.log(event: demoted)
    }
}
