import GRPCNIOTransportHTTP2
import NIOCore
import Synchronization

extension TinodeDouble {
    /// How the double's HTTP/2 connections behave on the wire.
    public enum Wire: Sendable, Hashable {
        /// grpc-swift's server as it is: no PINGs of its own, and grpc-swift's own ping policy.
        case grpcSwift
        /// Like Tinode's grpc-go server (tinode-protocol.md section 9): a WINDOW_UPDATE and a PING
        /// after each client DATA frame while none is unanswered, the client's connection window
        /// credited by the bytes received, and the client's PINGs policed with `keepalivePolicy`.
        /// A frame filter at the head of each connection does it (`GoWireRules`).
        case grpcGo(keepalivePolicy: KeepalivePolicy)
    }

    /// grpc-go's keepalive enforcement policy for the client's PINGs.
    public struct KeepalivePolicy: Sendable, Hashable {
        /// A client PING sooner than this after the previous one, with no HEADERS or DATA sent by
        /// the server in between, is a strike; the third ends the connection (GOAWAY
        /// ENHANCE_YOUR_CALM "too_many_pings").
        public var minTime: Duration
        /// Whether PINGs are allowed while no stream is open; when not, one per 2 hours is.
        public var permitWithoutStream: Bool

        public init(minTime: Duration, permitWithoutStream: Bool) {
            self.minTime = minTime
            self.permitWithoutStream = permitWithoutStream
        }

        /// tinode.conf `grpc_keepalive_enabled: true` (ours): 1 s, also without streams.
        public static let tinodeKeepaliveEnabled = Self(minTime: .seconds(1), permitWithoutStream: true)
        /// `grpc_keepalive_enabled: false` or missing: grpc-go's defaults, 5 minutes, and pings
        /// without an active stream count against a 2-hour rule.
        public static let tinodeKeepaliveDisabled = Self(minTime: .seconds(300), permitWithoutStream: false)
    }

    /// What the grpc-go wire emulation did, over every connection since the double was created.
    public struct WireCounters: Sendable, Hashable {
        /// PINGs the double sent (one per client DATA frame while none was unanswered).
        public var pingsSent = 0
        /// The clients' ACKs of those PINGs (consumed, never passed to the double's HTTP/2 stack).
        public var pingAcksReceived = 0
        /// Connection-level WINDOW_UPDATEs the double sent in place of grpc-swift's.
        public var windowUpdatesSent = 0
        /// GOAWAY ENHANCE_YOUR_CALM "too_many_pings" sent to clients that pinged too often.
        public var tooManyPingsGoAways = 0
        /// GOAWAY ENHANCE_YOUR_CALM received from clients: a client that decided the double was
        /// flooding it (SwiftNIO's limit on PING/SETTINGS/PRIORITY frames).
        public var clientEnhanceYourCalmGoAways = 0
        /// Other GOAWAYs received from clients.
        public var clientOtherGoAways = 0

        public init() {}
    }

    /// What the grpc-go wire emulation did so far (all zero with `.grpcSwift`).
    public var wireCounters: WireCounters {
        wireTally.snapshot
    }
}

extension TinodeDouble.Wire {
    /// Sets up the transport for this behaviour.
    func configure(_ config: inout HTTP2ServerTransport.Posix.Config, tally: WireTally) {
        guard case .grpcGo(let policy) = self else {
            // Connections are still registered, for `dropConnections()`.
            config.channelDebuggingCallbacks.onAcceptTCPConnection = { channel in
                channel.eventLoop.makeCompletedFuture { tally.connections.register(channel) }
            }
            return
        }
        // The emulation polices the client's PINGs as grpc-go does; grpc-swift's own policy (5
        // minutes, strikes without calls) must not act first.
        config.connection.keepalive.clientBehavior = .init(minPingIntervalWithoutCalls: .zero, allowWithoutCalls: true)
        config.channelDebuggingCallbacks.onAcceptTCPConnection = { channel in
            // Runs on the channel's event loop, before the first read. First in the pipeline: the
            // filter sees the socket's bytes before grpc-swift's HTTP/2 handler does.
            channel.eventLoop.makeCompletedFuture {
                tally.connections.register(channel)
                try channel.pipeline.syncOperations.addHandler(GoWireHandler(keepalive: policy, tally: tally), position: .first)
            }
        }
    }
}

/// The emulation's counters, shared by the connections of one double.
final class WireTally: Sendable {
    let connections = ClientConnections()
    private let pingsSent = Atomic(0)
    private let pingAcksReceived = Atomic(0)
    private let windowUpdatesSent = Atomic(0)
    private let tooManyPingsGoAways = Atomic(0)
    private let clientEnhanceYourCalmGoAways = Atomic(0)
    private let clientOtherGoAways = Atomic(0)

    var snapshot: TinodeDouble.WireCounters {
        var counters = TinodeDouble.WireCounters()
        counters.pingsSent = pingsSent.load(ordering: .relaxed)
        counters.pingAcksReceived = pingAcksReceived.load(ordering: .relaxed)
        counters.windowUpdatesSent = windowUpdatesSent.load(ordering: .relaxed)
        counters.tooManyPingsGoAways = tooManyPingsGoAways.load(ordering: .relaxed)
        counters.clientEnhanceYourCalmGoAways = clientEnhanceYourCalmGoAways.load(ordering: .relaxed)
        counters.clientOtherGoAways = clientOtherGoAways.load(ordering: .relaxed)
        return counters
    }

    func count(_ injection: GoWireRules.Injection) {
        switch injection {
        case .windowUpdate:
            windowUpdatesSent.add(1, ordering: .relaxed)
        case .windowUpdateAndPing:
            windowUpdatesSent.add(1, ordering: .relaxed)
            pingsSent.add(1, ordering: .relaxed)
        case .tooManyPings:
            tooManyPingsGoAways.add(1, ordering: .relaxed)
        }
    }

    func countAck() {
        pingAcksReceived.add(1, ordering: .relaxed)
    }

    func countClientGoAway(errorCode: UInt32) {
        if errorCode == 0xB {
            clientEnhanceYourCalmGoAways.add(1, ordering: .relaxed)
        } else {
            clientOtherGoAways.add(1, ordering: .relaxed)
        }
    }
}

/// `GoWireRules` on one accepted connection, first in its pipeline (next to the socket): client
/// bytes pass through the rules on their way to grpc-swift's HTTP/2 handler, the handler's bytes
/// on their way to the socket, and the rules' own frames go straight to the socket.
final class GoWireHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var rules: GoWireRules
    private let tally: WireTally
    /// Reused for every read and write, so that no call allocates an array.
    private var actions: [GoWireRules.Inbound] = []
    private var pieces: [GoWireRules.Outbound] = []
    /// The promise of bytes held back by the rules (a frame header split across writes).
    private var heldPromise: EventLoopPromise<Void>?
    /// Frames of the rules' own that came while the server was in the middle of writing a frame.
    private var waiting: ByteBuffer?

    init(keepalive: TinodeDouble.KeepalivePolicy, tally: WireTally) {
        rules = GoWireRules(keepalive: keepalive)
        self.tally = tally
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        heldPromise?.fail(ChannelError.ioOnClosedChannel)
        heldPromise = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var actions = self.actions
        self.actions = []
        actions.removeAll(keepingCapacity: true)
        rules.clientSent(unwrapInboundIn(data), at: .now(), into: &actions)
        var wrote = false
        var goAway: ByteBuffer?
        var close = false
        for action in actions {
            switch action {
            case .forward(let bytes):
                context.fireChannelRead(wrapInboundOut(bytes))
            case .toClient(let bytes, let injection):
                tally.count(injection)
                if case .tooManyPings = injection {
                    goAway = bytes
                } else if rules.isInsideServerFrame {
                    if waiting == nil { waiting = bytes } else { waiting!.writeImmutableBuffer(bytes) }
                } else {
                    context.write(wrapOutboundOut(bytes), promise: nil)
                    wrote = true
                }
            case .pingAcked:
                tally.countAck()
            case .clientGoAway(let code):
                tally.countClientGoAway(errorCode: code)
            case .close:
                close = true
            }
        }
        self.actions = actions
        if close {
            // A GOAWAY in the middle of a frame being written would garble both: then the
            // connection just closes.
            if let goAway, !rules.isInsideServerFrame {
                let context = NIOLoopBound(context, eventLoop: context.eventLoop)
                context.value.writeAndFlush(wrapOutboundOut(goAway)).whenComplete { _ in context.value.close(promise: nil) }
            } else {
                context.close(promise: nil)
            }
        } else if wrote {
            context.flush()
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var pieces = self.pieces
        self.pieces = []
        pieces.removeAll(keepingCapacity: true)
        let holdsTail = rules.serverSends(unwrapOutboundIn(data), into: &pieces)
        // Each piece is written when the next is known, so that the last one carries `promise`.
        var last: (bytes: ByteBuffer, promise: EventLoopPromise<Void>?)?
        for piece in pieces {
            switch piece {
            case .write(let bytes):
                if let last { context.write(wrapOutboundOut(last.bytes), promise: last.promise) }
                last = (bytes, nil)
            case .writeHeld(let bytes):
                if let last { context.write(wrapOutboundOut(last.bytes), promise: last.promise) }
                last = (bytes, heldPromise)
                heldPromise = nil
            case .dropHeld:
                heldPromise?.succeed()
                heldPromise = nil
            }
        }
        self.pieces = pieces
        if holdsTail {
            // The write completes when its held-back bytes do.
            if let last { context.write(wrapOutboundOut(last.bytes), promise: last.promise) }
            if let promise {
                if let heldPromise { heldPromise.futureResult.cascade(to: promise) } else { heldPromise = promise }
            }
        } else if let last {
            if let earlier = last.promise, let promise { earlier.futureResult.cascade(to: promise) }
            context.write(wrapOutboundOut(last.bytes), promise: last.promise ?? promise)
        } else {
            // Everything was dropped (the server's own connection WINDOW_UPDATE).
            promise?.succeed()
        }
        if let waiting, !rules.isInsideServerFrame {
            self.waiting = nil
            context.write(wrapOutboundOut(waiting), promise: nil)
        }
    }
}
