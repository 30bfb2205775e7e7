import Logging
import NIOCore
import NIOPosix
import Synchronization

/// One non-blocking connection that many callers share at once.
///
/// Commands from concurrent callers are written as they come and their replies are matched in order
/// (RESP answers strictly first in, first out), so one connection carries a pipeline of requests instead
/// of one round trip at a time. All I/O happens on the connection's event loop; callers only suspend.
///
/// A caller whose command times out or is cancelled gets its error at once; its reply, when it comes, is
/// read and dropped so that the replies behind it still reach their callers. Only a connection that stops
/// answering altogether (nothing at all came back while a command waited out its timeout) is closed.
final class ValkeyConnection: Sendable {
    private let channel: any Channel
    private let router: ReplyRouter
    /// Commands chosen for this connection and not yet answered (or abandoned); the pool sends new work to
    /// the connection with the fewest.
    private let load = Atomic<Int>(0)

    private init(channel: any Channel, router: ReplyRouter) {
        self.channel = channel
        self.router = router
    }

    /// Opens a connection, then authenticates and selects the database as configured.
    ///
    /// - Throws: ``ValkeyError/connectionFailed(reason:)`` when the server cannot be reached within the
    ///   connect timeout, ``ValkeyError/authenticationFailed`` when `AUTH` is refused, and whatever the
    ///   set-up commands fail with otherwise.
    ///
    /// - Parameters:
    ///   - onPush: Receives the `message` arrays of a connection that subscribed to a channel.
    ///   - onClose: Called once when the connection has closed, for whatever reason.
    static func connect(
        _ configuration: ValkeyConfiguration, on eventLoop: any EventLoop,
        onPush: (@Sendable (RESPValue) -> Void)? = nil, onClose: (@Sendable () -> Void)? = nil
    ) async throws -> ValkeyConnection {
        let endpoint = "\(configuration.host):\(configuration.port)"
        let router = try ReplyRouter(onPush: onPush)
        let channel: any Channel
        // An IP address needs no lookup: connecting to it directly keeps the connect off the resolver's
        // threads (getaddrinfo runs on a shared dispatch queue that other work can hold up).
        let address = try? SocketAddress(ipAddress: configuration.host, port: configuration.port)
        do {
            let bootstrap = ClientBootstrap(group: eventLoop)
                .connectTimeout(TimeAmount(configuration.connectTimeout))
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(router)
                    }
                }
            channel =
                if let address {
                    try await bootstrap.connect(to: address).get()
                } else {
                    try await bootstrap.connect(host: configuration.host, port: configuration.port).get()
                }
        } catch {
            throw ValkeyError.connectionFailed(reason: "\(endpoint): \(error)")
        }
        if let onClose { channel.closeFuture.whenComplete { _ in onClose() } }
        let connection = ValkeyConnection(channel: channel, router: router)
        do {
            try await connection.prepare(configuration)
        } catch {
            connection.close()
            throw error
        }
        return connection
    }

    private func prepare(_ configuration: ValkeyConfiguration) async throws {
        if let password = configuration.password {
            var auth = ["AUTH"]
            if let username = configuration.username { auth.append(username) }
            auth.append(password)
            reserve()
            // Any error reply to AUTH (WRONGPASS, "no password is set", ...) is a credentials problem; the
            // server's text is dropped so that nothing derived from the secret can leak.
            let replies = try await send([auth.map { Array($0.utf8) }], timeout: configuration.commandTimeout)
            if case .error = replies[0] { throw ValkeyError.authenticationFailed }
        }
        if configuration.database != 0 {
            reserve()
            let replies = try await send(
                [[Array("SELECT".utf8), Array(String(configuration.database).utf8)]],
                timeout: configuration.commandTimeout)
            if case .error(let message) = replies[0] {
                // NOAUTH here means a password is required but none was configured.
                if message.hasPrefix("NOAUTH") { throw ValkeyError.authenticationFailed }
                throw ValkeyError.serverError(message: message)
            }
        }
    }

    /// Commands waiting on this connection, for choosing the least busy one.
    var pendingCount: Int { load.load(ordering: .relaxed) }

    /// Whether the connection broke or was closed; a closed connection never becomes usable again.
    var isClosed: Bool { !channel.isActive }

    /// Counts one command against this connection before ``send(_:timeout:)``; `send` releases it.
    func reserve() {
        load.add(1, ordering: .relaxed)
    }

    /// Writes the commands together and returns one reply per command, in order.
    ///
    /// Error replies come back as ``RESPValue/error(_:)`` elements. Must follow exactly one
    /// ``reserve()``.
    ///
    /// - Throws: ``ValkeyError/timeout`` when the replies do not all arrive within `timeout`,
    ///   ``ValkeyError/connectionFailed(reason:)`` when the connection breaks first, `CancellationError`
    ///   when the calling task is cancelled (at once, without waiting for the server).
    func send(_ commands: [[[UInt8]]], timeout: Duration) async throws -> [RESPValue] {
        var buffer = channel.allocator.buffer(
            capacity: commands.reduce(0) { $0 + ByteBuffer.encodedSize(of: $1) })
        for command in commands { buffer.writeCommand(command) }
        let request = PendingRequest(expectedReplies: commands.count) { [self] in
            load.subtract(1, ordering: .relaxed)
        }
        let router = self.router
        let eventLoop = channel.eventLoop
        let payload = buffer
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                eventLoop.execute {
                    router.submit(request, payload: payload, timeout: TimeAmount(timeout), continuation: continuation)
                }
            }
        } onCancel: {
            eventLoop.execute { router.cancel(request) }
        }
    }

    /// Closes the socket; commands still waiting fail with ``ValkeyError/connectionFailed(reason:)``.
    func close() {
        channel.close(promise: nil)
    }
}

/// One caller's commands, from the moment they are written until their last reply is read.
///
/// Only touched on the connection's event loop (hence `@unchecked Sendable`): the caller creates it and
/// hands it over through `EventLoop.execute`.
final class PendingRequest: @unchecked Sendable {
    let expectedReplies: Int
    var replies: [RESPValue] = []
    /// Set once the caller has been answered (replies, error, timeout or cancellation). The request may
    /// stay queued after that, to absorb replies that are still on their way.
    var isAnswered = false
    /// Replies the connection had read when this request was written; unchanged at the timeout means the
    /// server went silent.
    var repliesReadBeforeSend: UInt64 = 0
    private var continuation: CheckedContinuation<[RESPValue], any Error>?
    private var timer: Scheduled<Void>?
    private var releaseLoad: (@Sendable () -> Void)?

    init(expectedReplies: Int, releaseLoad: @escaping @Sendable () -> Void) {
        self.expectedReplies = expectedReplies
        self.releaseLoad = releaseLoad
    }

    func attach(_ continuation: CheckedContinuation<[RESPValue], any Error>, timer: Scheduled<Void>?) {
        self.continuation = continuation
        self.timer = timer
    }

    /// Answers the caller once; later calls do nothing.
    func answer(_ result: Result<[RESPValue], any Error>) {
        guard !isAnswered else { return }
        isAnswered = true
        timer?.cancel()
        timer = nil
        continuation?.resume(with: result)
        continuation = nil
    }

    /// Gives the connection's load back once the request has left the pipeline for good.
    func leavePipeline() {
        releaseLoad?()
        releaseLoad = nil
    }
}

/// The channel handler that writes requests and hands each reply to the request it belongs to.
///
/// Every method runs on the channel's event loop; that confinement is what makes `@unchecked Sendable`
/// sound.
final class ReplyRouter: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let parser: ReplyParser
    private var context: ChannelHandlerContext?
    private var queue = CircularBuffer<PendingRequest>(initialCapacity: 16)
    private var repliesRead: UInt64 = 0
    private var flushScheduled = false
    /// Why the connection is unusable, once it is.
    private var failure: ValkeyError?

    /// Where published messages go on a subscribed connection; nil on ordinary connections, where every
    /// reply answers a command.
    private let onPush: (@Sendable (RESPValue) -> Void)?

    init(onPush: (@Sendable (RESPValue) -> Void)? = nil) throws(ValkeyError) {
        parser = try ReplyParser()
        self.onPush = onPush
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        fail(.connectionFailed(reason: "connection closed"))
        self.context = nil
    }

    func submit(
        _ request: PendingRequest, payload: ByteBuffer, timeout: TimeAmount,
        continuation: CheckedContinuation<[RESPValue], any Error>
    ) {
        if request.isAnswered {
            // Cancelled before it got here: nothing was written.
            request.leavePipeline()
            continuation.resume(throwing: CancellationError())
            return
        }
        guard failure == nil, let context else {
            request.leavePipeline()
            continuation.resume(throwing: failure ?? ValkeyError.connectionFailed(reason: "connection closed"))
            return
        }
        let timer = context.eventLoop.scheduleTask(in: timeout) { [self] in timedOut(request) }
        request.attach(continuation, timer: timer)
        request.repliesReadBeforeSend = repliesRead
        queue.append(request)
        context.write(wrapOutboundOut(payload), promise: nil)
        if !flushScheduled {
            // Commands submitted in the same turn of the event loop leave in one system call.
            flushScheduled = true
            context.eventLoop.execute { [self] in
                flushScheduled = false
                self.context?.flush()
            }
        }
    }

    func cancel(_ request: PendingRequest) {
        request.answer(.failure(CancellationError()))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        do {
            try bytes.withUnsafeReadableBytes { raw throws(ValkeyError) in try parser.feed(raw) }
            while let reply = try parser.nextReply() {
                repliesRead &+= 1
                if let onPush, case .array(let parts) = reply, parts.first?.string == "message" {
                    onPush(reply)
                    continue
                }
                guard let head = queue.first else {
                    throw ValkeyError.protocol(reason: "reply without a command")
                }
                head.replies.append(reply)
                if head.replies.count == head.expectedReplies {
                    queue.removeFirst()
                    // The load is given back first: a caller that resumes and sends again at once should
                    // find this connection idle, not open another one.
                    head.leavePipeline()
                    head.answer(.success(head.replies))
                }
            }
        } catch let error as ValkeyError {
            fail(error)
            context.close(promise: nil)
        } catch {
            fail(.protocol(reason: "\(error)"))
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(.connectionFailed(reason: "connection closed by the server"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(.connectionFailed(reason: "\(error)"))
        context.close(promise: nil)
    }

    private func timedOut(_ request: PendingRequest) {
        guard !request.isAnswered else { return }
        request.answer(.failure(ValkeyError.timeout))
        if repliesRead == request.repliesReadBeforeSend, let context {
            // Not a single reply since this request was written: the server (or the path to it) is stuck,
            // and everything queued behind would only time out too.
            fail(.timeout)
            context.close(promise: nil)
        }
    }

    /// Fails every queued request with `error`; the connection is unusable from now on.
    private func fail(_ error: ValkeyError) {
        if failure == nil { failure = error }
        while let request = queue.popFirst() {
            request.leavePipeline()
            request.answer(.failure(error))
        }
    }
}
