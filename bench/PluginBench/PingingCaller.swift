import GRPCOverHTTP2
import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix

/// A caller that pings the way Tinode's gRPC client (grpc-go) does, which neither grpc-swift's
/// client nor h2load do: grpc-go's flow-control estimator sends an HTTP/2 PING whenever a DATA
/// frame arrives and none of its PINGs is unanswered, so about one PING per answer
/// (tinode-protocol.md section 9). A server that limits control frames by time cuts such a caller
/// off under load; this caller counts every connection the server ends (GOAWAY or close) and opens
/// a new one, as Tinode does.
///
/// Raw HTTP/2 on NIO: `connections` connections, each keeping `inFlight` unary calls going until the
/// deadline, each call a new stream with one request message. Everything per call happens on the
/// connection's event loop; no task per call.
enum PingingCaller {
    struct Figures: Sendable {
        /// Calls answered with `grpc-status: 0`.
        var calls = 0
        /// Calls answered otherwise, or lost with their stream or connection.
        var failed = 0
        var seconds = 0.0
        /// Of the answered calls, in nanoseconds.
        var latencies: [Int64] = []
        var pingsSent = 0
        var pingAcks = 0
        /// Connections the server ended: a GOAWAY, or a close this caller did not ask for.
        var closedByServer = 0
        var connectionsOpened = 0

        mutating func add(_ other: Figures) {
            calls += other.calls
            failed += other.failed
            latencies += other.latencies
            pingsSent += other.pingsSent
            pingAcks += other.pingAcks
            closedByServer += other.closedByServer
            connectionsOpened += other.connectionsOpened
        }

        var callsPerSecond: Double { seconds > 0 ? Double(calls) / seconds : 0 }

        var p99Milliseconds: Double {
            let sorted = latencies.sorted()
            guard !sorted.isEmpty else { return 0 }
            return Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.99))]) / 1e6
        }
    }

    /// Calls `path` with `body` (a gRPC-framed request message) for `seconds`. With `pace`, each of
    /// the calls in flight waits a random 0 to 2 x `pace` before the next one (not part of its latency).
    static func run(
        port: Int, connections: Int, inFlight: Int, seconds: Double, pace: TimeAmount? = nil, path: String, body: ByteBuffer
    ) async throws -> Figures {
        let deadline = NIODeadline.now() + .nanoseconds(Int64(seconds * 1e9))
        let started = ContinuousClock.now
        var total = try await withThrowingTaskGroup(of: Figures.self) { group in
            for _ in 0..<connections {
                group.addTask {
                    var figures = Figures()
                    // A connection the server ended is replaced until the deadline, as Tinode dials again.
                    while NIODeadline.now() < deadline {
                        figures.add(
                            try await Lane.run(
                                port: port, inFlight: inFlight, deadline: deadline, pace: pace, path: path, body: body))
                    }
                    return figures
                }
            }
            var total = Figures()
            for try await figures in group { total.add(figures) }
            return total
        }
        let elapsed = ContinuousClock.now - started
        total.seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return total
    }

    /// One connection and its calls. Its state is only touched on its event loop (hence the
    /// unchecked `Sendable`: the stream initializers that capture it run there too).
    private final class Lane: @unchecked Sendable {
        private let eventLoop: any EventLoop
        private let inFlight: Int
        private let deadline: NIODeadline
        private let pace: TimeAmount?
        private let head: HPACKHeaders
        private let body: ByteBuffer
        private let done: EventLoopPromise<Figures>
        private var figures = Figures()
        private var channel: (any Channel)?
        private var multiplexer: NIOHTTP2Handler.StreamMultiplexer?
        /// Where PINGs are written: the connection handler after NIO's HTTP/2 handler.
        fileprivate var connectionContext: ChannelHandlerContext?
        private var running = 0
        private var serverEnded = false
        private var closing = false
        private var finished = false
        private var pingOutstanding: HTTP2PingData?

        private init(
            eventLoop: any EventLoop, port: Int, inFlight: Int, deadline: NIODeadline, pace: TimeAmount?, path: String, body: ByteBuffer
        ) {
            self.eventLoop = eventLoop
            self.inFlight = inFlight
            self.deadline = deadline
            self.pace = pace
            head = HPACKHeaders([
                (":method", "POST"), (":scheme", "http"), (":path", path), (":authority", "127.0.0.1:\(port)"),
                ("content-type", "application/grpc"), ("te", "trailers"),
            ])
            self.body = body
            done = eventLoop.makePromise()
        }

        /// Connects, keeps `inFlight` calls going until the deadline or until the server ends the
        /// connection, and returns what it saw.
        static func run(
            port: Int, inFlight: Int, deadline: NIODeadline, pace: TimeAmount?, path: String, body: ByteBuffer
        ) async throws -> Figures {
            let eventLoop = MultiThreadedEventLoopGroup.singleton.next()
            let lane = Lane(eventLoop: eventLoop, port: port, inFlight: inFlight, deadline: deadline, pace: pace, path: path, body: body)
            let configuration = {
                var configuration = NIOHTTP2Handler.ConnectionConfiguration()
                // The server's PING ACKs are control frames too: NIO's default rule would make this
                // client give up on the server after 200 of them.
                HTTP2FloodLimits.applyBackstop(to: &configuration)
                return configuration
            }()
            let channel: any Channel
            do {
                channel = try await ClientBootstrap(group: eventLoop)
                    .channelOption(.socketOption(.tcp_nodelay), value: 1)
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            let multiplexer = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                                mode: .client, connectionConfiguration: configuration, streamConfiguration: .init()
                            ) { stream in stream.eventLoop.makeSucceededVoidFuture() }  // the server opens no streams
                            try channel.pipeline.syncOperations.addHandler(ConnectionWatcher(lane: lane))
                            lane.multiplexer = multiplexer
                        }
                    }
                    .connect(host: "127.0.0.1", port: port).get()
            } catch {
                lane.done.fail(error)
                throw error
            }
            eventLoop.execute { lane.start(channel) }
            return try await lane.done.futureResult.get()
        }

        private func start(_ channel: any Channel) {
            self.channel = channel
            figures.connectionsOpened = 1
            for _ in 0..<inFlight { startCall() }
            if running == 0 { finish() }
        }

        private func startCall() {
            guard !serverEnded, !closing, NIODeadline.now() < deadline, let multiplexer else { return }
            running += 1
            let begin = NIODeadline.now()
            multiplexer.createStreamChannel { [self] stream in
                stream.eventLoop.makeCompletedFuture {
                    try stream.pipeline.syncOperations.addHandler(Call(lane: self, begin: begin, head: head, body: body))
                }
            }.whenFailure { [self] _ in callEnded(ok: false, begin: begin) }
        }

        /// A DATA frame arrived on one of the streams: grpc-go's rule.
        fileprivate func dataReceived() {
            guard pingOutstanding == nil, let connectionContext, !serverEnded else { return }
            let ping = HTTP2PingData(withInteger: UInt64(figures.pingsSent))
            pingOutstanding = ping
            figures.pingsSent += 1
            connectionContext.writeAndFlush(NIOAny(HTTP2Frame(streamID: .rootStream, payload: .ping(ping, ack: false))), promise: nil)
        }

        fileprivate func pingAcknowledged(_ data: HTTP2PingData) {
            guard data == pingOutstanding else { return }
            pingOutstanding = nil
            figures.pingAcks += 1
        }

        /// A GOAWAY, or the connection closed without our asking.
        fileprivate func endedByServer() {
            guard !closing, !serverEnded else { return }
            serverEnded = true
            figures.closedByServer += 1
            if running == 0 { finish() }
        }

        fileprivate func callEnded(ok: Bool, begin: NIODeadline) {
            running -= 1
            if ok {
                figures.calls += 1
                figures.latencies.append((NIODeadline.now() - begin).nanoseconds)
            } else {
                figures.failed += 1
            }
            if let pace {
                running += 1  // waiting counts as in flight, so that the lane does not finish meanwhile
                let wait = TimeAmount.nanoseconds(Int64.random(in: 0...(2 * pace.nanoseconds)))
                eventLoop.scheduleTask(in: wait) { [self] in
                    running -= 1
                    startCall()
                    if running == 0 { finish() }
                }
            } else {
                startCall()
            }
            if running == 0 { finish() }
        }

        private func finish() {
            guard !finished else { return }
            finished = true
            closing = true
            if let channel, channel.isActive {
                channel.close().whenComplete { [self] _ in done.succeed(figures) }
            } else {
                done.succeed(figures)
            }
        }
    }

    /// Watches the connection: PING ACKs, GOAWAY, the close.
    private final class ConnectionWatcher: ChannelInboundHandler {
        typealias InboundIn = HTTP2Frame
        typealias OutboundOut = HTTP2Frame

        private let lane: Lane

        init(lane: Lane) {
            self.lane = lane
        }

        func handlerAdded(context: ChannelHandlerContext) {
            lane.connectionContext = context
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data).payload {
            case .ping(let ping, ack: true): lane.pingAcknowledged(ping)
            case .goAway: lane.endedByServer()
            default: break
            }
            context.fireChannelRead(data)
        }

        func channelInactive(context: ChannelHandlerContext) {
            lane.endedByServer()
            lane.connectionContext = nil
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }

    /// One unary call: the request on activation, then the answer's DATA and trailers.
    private final class Call: ChannelInboundHandler {
        typealias InboundIn = HTTP2Frame.FramePayload
        typealias OutboundOut = HTTP2Frame.FramePayload

        private let lane: Lane
        private let begin: NIODeadline
        private let head: HPACKHeaders
        private let body: ByteBuffer
        private var sent = false
        private var status: String?
        private var ended = false

        init(lane: Lane, begin: NIODeadline, head: HPACKHeaders, body: ByteBuffer) {
            self.lane = lane
            self.begin = begin
            self.head = head
            self.body = body
        }

        func handlerAdded(context: ChannelHandlerContext) {
            if context.channel.isActive { send(context) }
        }

        func channelActive(context: ChannelHandlerContext) {
            send(context)
            context.fireChannelActive()
        }

        private func send(_ context: ChannelHandlerContext) {
            guard !sent else { return }
            sent = true
            context.write(wrapOutboundOut(.headers(.init(headers: head))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.data(.init(data: .byteBuffer(body), endStream: true))), promise: nil)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .data(let frame):
                lane.dataReceived()
                if frame.endStream { end(context) }
            case .headers(let headers):
                if let value = headers.headers.first(name: "grpc-status") { status = value }
                if headers.endStream { end(context) }
            case .rstStream:
                end(context)
            default:
                break
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            end(context)
            context.fireChannelInactive()
        }

        private func end(_ context: ChannelHandlerContext) {
            guard !ended else { return }
            ended = true
            lane.callEnded(ok: status == "0", begin: begin)
        }
    }
}
