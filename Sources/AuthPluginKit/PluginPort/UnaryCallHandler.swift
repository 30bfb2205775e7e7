import GRPCCore
import GRPCOverHTTP2
import Logging
import NIOCore
import NIOHPACK
import NIOHTTP2

/// What every call on a plugin-port connection shares: the routes, the caller's standing and the
/// limits. Made once per connection.
struct UnaryCallSettings: Sendable {
    /// By `:path`.
    let routes: [String: UnaryRoute]
    /// Whether the connection's peer is inside `AUTHPLUGIN_ALLOWED_NETWORKS`.
    let callerAllowed: Bool
    /// The peer, for logs.
    let peer: String
    /// The longest a call may take (from its request headers to its answer) when it names no
    /// shorter `grpc-timeout`: a call that never completes its request does not hold its stream forever.
    let maximumCallDuration: Duration
    /// The largest request message (``PluginPortLimits/maximumMessageBytes``).
    let maximumMessageBytes: Int
    let metrics: PluginMetrics
    /// Where a refused call is reported (at most once a minute, however many there are).
    let warnings: RateLimitedWarnings
    let logger: Logger
}

/// One HTTP/2 stream of the plugin port: one unary gRPC call.
///
/// Gathers the request (HEADERS, DATA up to ``UnaryCallSettings/maximumMessageBytes``: a larger one
/// is `RESOURCE_EXHAUSTED` as soon as its length prefix or its bytes show it), checks it, runs its
/// route and writes the answer: HEADERS, one DATA with the message, and trailers with `grpc-status`;
/// or, when the call fails before an answer exists, a single HEADERS frame with the status
/// ("trailers-only"). A route that answers `.now` is answered within the same read, on the event
/// loop; one that answers `.later` runs in a task, and its answer is written back on the event loop.
/// The call's deadline (`grpc-timeout`, at most `maximumCallDuration`) answers DEADLINE_EXCEEDED and
/// cancels the task; a stream the peer resets cancels it too. Its timer is only started for a call
/// still open when a read ends.
final class UnaryCallHandler: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    private enum Phase {
        /// No HEADERS yet.
        case started
        /// The request is arriving.
        case receiving(UnaryRoute)
        /// The request is complete; its route's task is working on the answer.
        case answering
        /// The answer is written, or the stream is gone.
        case finished
    }

    private let settings: UnaryCallSettings
    private var phase = Phase.started
    /// The request's `:path`, for logs.
    private var path = ""
    private var body = ByteBuffer()
    /// Whether the peer has ended its side of the stream.
    private var requestEnded = false
    /// When the call must be answered by; its timer is armed only for a call still open at the end of
    /// a read (most calls are answered within the read that brought them, and need none).
    private var callDeadline: NIODeadline?
    private var deadline: Scheduled<Void>?
    private var task: Task<Void, Never>?

    init(settings: UnaryCallSettings) {
        self.settings = settings
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .headers(let headers):
            if headers.endStream { requestEnded = true }
            if case .started = phase {
                begin(context, headers.headers)
            }
            // Otherwise trailers from the client, which gRPC clients do not send; only their end counts.
            if headers.endStream { endOfRequest(context) }
        case .data(let frame):
            if frame.endStream { requestEnded = true }
            if case .receiving = phase, case .byteBuffer(var bytes) = frame.data {
                if body.readableBytes == 0 {
                    body = bytes
                } else {
                    body.writeBuffer(&bytes)
                }
                // The announced length, or the bytes themselves: a body that cannot be one message
                // within the limit is refused before more of it is kept.
                let announced = body.getInteger(at: body.readerIndex + 1, as: UInt32.self).map(Int.init) ?? 0
                if max(announced, body.readableBytes - 5) > settings.maximumMessageBytes {
                    body = ByteBuffer()
                    let limit = settings.maximumMessageBytes
                    finish(context, .failure(RPCError(code: .resourceExhausted, message: "the request is larger than \(limit) bytes")))
                }
            }
            if frame.endStream { endOfRequest(context) }
        default:
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        armDeadline(context)
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        // The stream is closed: answered, reset by the peer, or its connection is gone.
        phase = .finished
        deadline?.cancel()
        task?.cancel()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A stream error (a protocol violation on this stream): NIO resets it; nothing to answer.
        context.close(promise: nil)
    }

    /// The request's HEADERS: method, content type, caller and route are checked before any of
    /// its body is kept.
    private func begin(_ context: ChannelHandlerContext, _ headers: HPACKHeaders) {
        guard headers.first(name: ":method") == "POST" else {
            return refuse(context, httpStatus: "405")
        }
        guard GRPCWire.isGRPCContentType(headers.first(name: "content-type")) else {
            return refuse(context, httpStatus: "415")
        }
        guard settings.callerAllowed else {
            settings.metrics.refused.increment()
            settings.warnings.warn(
                .refusedCaller, "plugin caller refused by AUTHPLUGIN_ALLOWED_NETWORKS (its connection is closed)",
                metadata: ["peer": "\(settings.peer)"])
            return finish(
                context, .failure(RPCError(code: .permissionDenied, message: "caller is not in AUTHPLUGIN_ALLOWED_NETWORKS")))
        }
        path = headers.first(name: ":path") ?? ""
        guard let route = settings.routes[path] else {
            return finish(context, .failure(RPCError(code: .unimplemented, message: "no such method: \(path)")))
        }
        phase = .receiving(route)
        var limit = settings.maximumCallDuration
        if let timeout = headers.first(name: "grpc-timeout").flatMap(GRPCWire.timeout) { limit = min(limit, timeout) }
        callDeadline = .now() + TimeAmount(limit)
    }

    /// Starts the deadline's timer for a call that is not answered yet: DEADLINE_EXCEEDED, and its
    /// task cancelled.
    private func armDeadline(_ context: ChannelHandlerContext) {
        guard deadline == nil, let callDeadline else { return }
        switch phase {
        case .receiving, .answering: break
        case .started, .finished: return
        }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(deadline: callDeadline) {
            let (handler, context) = bound.value
            handler.task?.cancel()
            handler.finish(context, .failure(RPCError(code: .deadlineExceeded, message: "the call's deadline passed")))
        }
    }

    /// The peer ended its side: the request is complete.
    private func endOfRequest(_ context: ChannelHandlerContext) {
        guard case .receiving(let route) = phase else { return }
        phase = .answering
        switch GRPCWire.requestMessage(in: &body) {
        case .failure(let error):
            finish(context, .failure(error))
        case .success(let request):
            body = ByteBuffer()
            switch route.answer(request) {
            case .now(let outcome):
                finish(context, outcome)
            case .later(let work):
                armDeadline(context)
                let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                task = Task {
                    let outcome = await work()
                    bound.eventLoop.execute {
                        let (handler, context) = bound.value
                        handler.finish(context, outcome)
                    }
                }
            }
        }
    }

    /// Writes the answer once (a late task's answer after the deadline is dropped). A request the
    /// peer is still sending is not wanted any more: the stream is reset after the answer.
    private func finish(_ context: ChannelHandlerContext, _ outcome: UnaryRoute.Outcome) {
        if case .finished = phase { return }
        phase = .finished
        deadline?.cancel()
        deadline = nil
        task = nil
        switch outcome {
        case .success(let message):
            context.write(wrapOutboundOut(.headers(.init(headers: GRPCWire.responseHead))), promise: nil)
            let framed = GRPCWire.framed(message, allocator: context.channel.allocator)
            context.write(wrapOutboundOut(.data(.init(data: .byteBuffer(framed)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: GRPCWire.okTrailers, endStream: true))), promise: nil)
        case .failure(let error):
            // Tinode never sends what fails here (refused callers are logged where they are refused).
            if error.code != .permissionDenied {
                settings.logger.notice(
                    "pbx.Plugin call failed",
                    metadata: ["path": "\(path)", "code": "\(error.code)", "reason": "\(error.message)", "peer": "\(settings.peer)"])
            }
            let trailers = GRPCWire.trailersOnly(for: error)
            context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: trailers, endStream: true))), promise: nil)
        }
        if !requestEnded { context.close(promise: nil) }
    }

    /// Not a gRPC request at all: a plain HTTP status, as gRPC's HTTP/2 mapping prescribes.
    private func refuse(_ context: ChannelHandlerContext, httpStatus: String) {
        phase = .finished
        let headers = HPACKHeaders([(":status", httpStatus)])
        context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: headers, endStream: true))), promise: nil)
        if !requestEnded { context.close(promise: nil) }
    }
}
