import NIOCore
import NIOHPACK
import TestSupport

/// One HTTP/2 frame as it crossed the wire; `headers` decoded for HEADERS frames.
struct RawHTTP2Frame {
    let type: UInt8
    let flags: UInt8
    let streamID: UInt32
    let payload: [UInt8]
    var headers: HPACKHeaders?

    var endStream: Bool { (type == RawHTTP2Peer.data || type == RawHTTP2Peer.headers) && flags & 0x1 != 0 }
    var isAck: Bool { (type == RawHTTP2Peer.ping || type == RawHTTP2Peer.settings) && flags & 0x1 != 0 }

    /// Takes the first whole frame off `pending` (3 bytes length, type, flags, 4 bytes stream id,
    /// payload); nil until one has arrived.
    static func take(from pending: inout [UInt8]) -> RawHTTP2Frame? {
        guard pending.count >= 9 else { return nil }
        let length = Int(pending[0]) << 16 | Int(pending[1]) << 8 | Int(pending[2])
        guard pending.count >= 9 + length else { return nil }
        let frame = RawHTTP2Frame(
            type: pending[3], flags: pending[4], streamID: RawHTTP2Peer.uint32(pending, at: 5) & 0x7fff_ffff,
            payload: Array(pending[9..<(9 + length)]))
        pending.removeFirst(9 + length)
        return frame
    }
}

/// An HTTP/2 client that works frame by frame over a blocking socket (``RawConnection``): it pings
/// exactly when and as often as a test says, which no HTTP/2 library lets a caller do, and it sees
/// every frame the server sends. It answers the server's SETTINGS and PINGs by itself and records a
/// GOAWAY. Used from one thread, inside `RawConnection.run`.
final class RawHTTP2Peer {
    // Frame types (RFC 9113, 6).
    static let data: UInt8 = 0
    static let headers: UInt8 = 1
    static let settings: UInt8 = 4
    static let ping: UInt8 = 6
    static let goAway: UInt8 = 7
    static let windowUpdate: UInt8 = 8
    /// GOAWAY's error code for a peer that sends too much (RFC 9113, 7).
    static let enhanceYourCalm: UInt32 = 0xb

    struct GoAway: Equatable {
        let lastStreamID: UInt32
        let errorCode: UInt32
    }

    let connection: RawConnection
    private var pending: [UInt8] = []
    private var encoder = HPACKEncoder(allocator: ByteBufferAllocator())
    private var decoder = HPACKDecoder(allocator: ByteBufferAllocator())
    private var nextStreamID: UInt32 = 1
    /// Whether the server closed or reset the connection.
    private(set) var closed = false
    /// The server's last GOAWAY.
    private(set) var goAway: GoAway?

    init(port: Int) throws {
        connection = try RawConnection(port: port)
    }

    /// The preface, an empty SETTINGS frame and a connection window of 1 GiB, as gRPC clients open.
    func start() {
        connection.send(PluginConnectionTests.http2Preface)
        send(type: Self.windowUpdate, stream: 0, payload: Self.bigEndian(UInt32(1 << 30) - 65_535))
    }

    func send(type: UInt8, flags: UInt8 = 0, stream: UInt32, payload: [UInt8]) {
        if !connection.send(Self.frame(type: type, flags: flags, stream: stream, payload: payload)) { closed = true }
    }

    static func frame(type: UInt8, flags: UInt8 = 0, stream: UInt32, payload: [UInt8]) -> [UInt8] {
        let length = payload.count
        let head: [UInt8] = [UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff), type, flags]
        return head + bigEndian(stream) + payload
    }

    /// A PING (8 bytes of data: `value`).
    func sendPing(_ value: UInt64) {
        send(type: Self.ping, stream: 0, payload: Self.pingData(value))
    }

    static func pingData(_ value: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * $0)) }
    }

    /// Opens the next stream with a unary gRPC call of `path` carrying `message` (protobuf bytes),
    /// and ends it, in one write (the socket has Nagle's algorithm on: two small writes in a row
    /// would wait for the server's delayed ACK). Returns the stream's id.
    @discardableResult
    func call(_ path: String, message: [UInt8]) -> UInt32 {
        let stream = nextStreamID
        nextStreamID += 2
        let head = HPACKHeaders([
            (":method", "POST"), (":scheme", "http"), (":path", path), (":authority", "localhost"),
            ("content-type", "application/grpc"), ("te", "trailers"),
        ])
        var block = ByteBufferAllocator().buffer(capacity: 128)
        try! encoder.encode(headers: head, to: &block)
        // HEADERS with END_HEADERS, then DATA with END_STREAM: the message with gRPC's 5-byte prefix.
        let request =
            Self.frame(type: Self.headers, flags: 0x4, stream: stream, payload: Array(block.readableBytesView))
            + Self.frame(type: Self.data, flags: 0x1, stream: stream, payload: [0] + Self.bigEndian(UInt32(message.count)) + message)
        if !connection.send(request) { closed = true }
        return stream
    }

    /// The next frame, or nil when the connection closed (``closed``) or nothing came within
    /// `timeout`. SETTINGS and PINGs from the server are answered, and a GOAWAY recorded, before the
    /// frame is returned.
    func nextFrame(timeout: Duration = .seconds(10)) -> RawHTTP2Frame? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if var frame = takeFrame() {
                switch frame.type {
                case Self.settings where !frame.isAck:
                    send(type: Self.settings, flags: 0x1, stream: 0, payload: [])
                case Self.ping where !frame.isAck:
                    send(type: Self.ping, flags: 0x1, stream: 0, payload: frame.payload)
                case Self.goAway where frame.payload.count >= 8:
                    goAway = GoAway(
                        lastStreamID: Self.uint32(frame.payload, at: 0) & 0x7fff_ffff, errorCode: Self.uint32(frame.payload, at: 4))
                case Self.headers:
                    frame.headers = decodeHeaders(frame)
                default:
                    break
                }
                return frame
            }
            let left = deadline - ContinuousClock.now
            guard !closed, left > .zero else { return nil }
            switch connection.receive(timeout: min(left, .milliseconds(200))) {
            case .bytes(let bytes): pending += bytes
            case .closed: closed = true
            case .timedOut: continue
            }
        }
    }

    /// Reads until the server closes the connection, at most `timeout`; true when it did.
    func waitForClose(timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !closed, ContinuousClock.now < deadline {
            _ = nextFrame(timeout: deadline - ContinuousClock.now)
        }
        return closed
    }

    private func takeFrame() -> RawHTTP2Frame? { RawHTTP2Frame.take(from: &pending) }

    /// The header block of a HEADERS frame (padding and priority skipped; the server sends no
    /// CONTINUATION for blocks this small).
    private func decodeHeaders(_ frame: RawHTTP2Frame) -> HPACKHeaders? {
        var block = frame.payload[...]
        if frame.flags & 0x8 != 0, let padding = block.first {  // PADDED
            block = block.dropFirst().dropLast(Int(padding))
        }
        if frame.flags & 0x20 != 0 { block = block.dropFirst(5) }  // PRIORITY
        var buffer = ByteBufferAllocator().buffer(bytes: block)
        return try? decoder.decodeHeaders(from: &buffer)
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
    }

    static func uint32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        (0..<4).reduce(0) { $0 << 8 | UInt32(bytes[offset + $1]) }
    }
}
