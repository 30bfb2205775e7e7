import Foundation
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1

/// Answers a request that the HTTP parser cannot read (more than 1 000 headers, more than 80 KiB of
/// them, broken syntax) with 400 and the given JSON body, then ends the connection.
///
/// Hummingbird's plain HTTP/1 channel does this on its own; its WebSocket-upgrade channel, which the
/// Gateway serves, drops the parser's error and leaves the client waiting until the request
/// deadline closes the connection without a word. This wraps such a channel and puts a handler
/// right behind its HTTP decoder, where the parser's errors arrive.
public struct MalformedRequestAnswering<Base: ServerChildChannel>: ServerChildChannel {
    public typealias Value = Base.Value

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
            try pipeline.addHandler(MalformedRequestAnswer(body: body), name: MalformedRequestAnswer.name, position: .after(decoder))
            return value
        }
    }

    public func handle(value: Base.Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
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
    private var responseUnderWay = false
    private var answered = false

    init(body: Data) {
        self.body = body
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard error is HTTPParserError, !answered else {
            context.fireErrorCaught(error)
            return
        }
        answered = true
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
