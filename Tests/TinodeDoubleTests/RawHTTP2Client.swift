import NIOCore
import NIOPosix
import SwiftProtobuf
import TinodeProto

/// A TCP connection that speaks HTTP/2 by hand, frame by frame, for what no HTTP/2 stack lets a
/// test do (ping at will, leave a PING unanswered, watch every frame the server sends).
final class RawHTTP2Client {
    enum Event: Sendable {
        case bytes([UInt8])
        case closed
    }

    private let channel: any Channel
    private let inbox: Inbox<Event>
    private var pending: [UInt8] = []
    private var queued: [WireFrames.Frame] = []
    private(set) var isClosed = false

    private init(channel: any Channel, inbox: Inbox<Event>) {
        self.channel = channel
        self.inbox = inbox
    }

    static func connect(port: Int) async throws -> RawHTTP2Client {
        let inbox = Inbox<Event>()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Collector(inbox: inbox)) }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return RawHTTP2Client(channel: channel, inbox: inbox)
    }

    func send(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes)).get()
    }

    func close() async {
        try? await channel.close()
    }

    /// The next whole frame from the server; nil when the connection closed or nothing came in time.
    func nextFrame(within timeout: Duration = TestTimeouts.answer) async -> WireFrames.Frame? {
        let deadline = ContinuousClock.now + timeout
        while true {
            queued += WireFrames.parse(&pending)
            if !queued.isEmpty { return queued.removeFirst() }
            if isClosed { return nil }
            let left = deadline - ContinuousClock.now
            guard left > .zero, let event = await inbox.next(within: left) else { return nil }
            switch event {
            case .bytes(let bytes): pending += bytes
            case .closed: isClosed = true
            }
        }
    }

    /// The client preface and an empty SETTINGS; then reads until the server's SETTINGS and
    /// acknowledges them.
    func open() async throws {
        try await send(WireFrames.preface + WireFrames.settings())
        while let frame = await nextFrame() {
            if frame.type == 4, frame.flags & 1 == 0 {
                try await send(WireFrames.settings(ack: true))
                return
            }
        }
        throw RawHTTP2Error.closed
    }

    /// HEADERS that open a `pbx.Node/MessageLoop` call on `stream` (HPACK literals, no Huffman).
    func openMessageLoop(stream: UInt32) async throws {
        let fields: [(String, String)] = [
            (":method", "POST"), (":scheme", "http"), (":path", "/pbx.Node/MessageLoop"), (":authority", "127.0.0.1"),
            ("content-type", "application/grpc"), ("te", "trailers"),
        ]
        var block: [UInt8] = []
        for (name, value) in fields {
            // Literal header field without indexing, new name: 0x00, then length-prefixed strings.
            block.append(0x00)
            block.append(UInt8(name.utf8.count))
            block += Array(name.utf8)
            block.append(UInt8(value.utf8.count))
            block += Array(value.utf8)
        }
        try await send(WireFrames.frame(type: 1, flags: 0x4, stream: stream, block))
    }

    /// One gRPC message (uncompressed) in one DATA frame; returns the frame's payload length.
    @discardableResult
    func sendMessage(_ message: Pbx_ClientMsg, stream: UInt32) async throws -> Int {
        let bytes: [UInt8] = try message.serializedBytes()
        let payload = [0] + WireFrames.bigEndian(UInt32(bytes.count)) + bytes
        try await send(WireFrames.frame(type: 0, stream: stream, payload))
        return payload.count
    }

    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let inbox: Inbox<Event>

        init(inbox: Inbox<Event>) {
            self.inbox = inbox
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            inbox.push(.bytes(unwrapInboundIn(data).bytes))
        }

        func channelInactive(context: ChannelHandlerContext) {
            inbox.push(.closed)
            context.fireChannelInactive()
        }
    }
}

enum RawHTTP2Error: Error {
    case closed
}
