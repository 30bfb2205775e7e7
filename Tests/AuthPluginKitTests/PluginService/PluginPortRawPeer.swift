import Foundation
import NIOCore
import NIOHPACK
import TestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// A raw HTTP/2 client for the plugin port's limit tests. Unlike ``RawHTTP2Peer`` it answers the
/// server's SETTINGS and PINGs only when told to (a peer that never acknowledges SETTINGS is one of
/// the cases), and it builds requests with stateless HPACK (literals, never indexed), so frames
/// can be written in any order and any number at once. Used from one thread at a time: inside
/// `RawConnection.run`, then handed back to the test to read what it saw.
final class PluginPortRawPeer: @unchecked Sendable {
    // Frame types (RFC 9113, 6).
    static let data: UInt8 = 0
    static let headers: UInt8 = 1
    static let rstStream: UInt8 = 3
    static let settings: UInt8 = 4
    static let ping: UInt8 = 6
    static let goAway: UInt8 = 7
    static let continuation: UInt8 = 9
    // Error codes (RFC 9113, 7).
    static let noError: UInt32 = 0
    static let protocolError: UInt32 = 1
    static let cancel: UInt32 = 8
    static let refusedStream: UInt32 = 7
    static let enhanceYourCalm: UInt32 = 0xb

    let connection: RawConnection
    var acknowledgesSettings: Bool
    var answersPings: Bool
    private var pending: [UInt8] = []
    private var decoder = HPACKDecoder(allocator: ByteBufferAllocator())
    /// Every frame read so far, HEADERS decoded.
    private(set) var frames: [RawHTTP2Frame] = []
    /// Whether the server closed or reset the connection.
    private(set) var closed = false

    init(port: Int, acknowledgesSettings: Bool = true, answersPings: Bool = true) throws {
        connection = try RawConnection(port: port)
        self.acknowledgesSettings = acknowledgesSettings
        self.answersPings = answersPings
    }

    /// The client preface and an empty SETTINGS frame.
    static let preface = PluginConnectionTests.http2Preface

    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        if !connection.send(bytes) { closed = true }
        return !closed
    }

    static func frame(type: UInt8, flags: UInt8 = 0, stream: UInt32, _ payload: [UInt8]) -> [UInt8] {
        RawHTTP2Peer.frame(type: type, flags: flags, stream: stream, payload: payload)
    }

    /// A request's HEADERS (END_HEADERS) for `path`, with END_STREAM when `endStream`.
    static func requestHeaders(stream: UInt32, path: String, endStream: Bool = false) -> [UInt8] {
        frame(type: headers, flags: endStream ? 0x5 : 0x4, stream: stream, PluginPortTests.requestHeaders(path: path))
    }

    /// One whole unary call: HEADERS, then one DATA frame with the message and END_STREAM.
    static func call(stream: UInt32, path: String, message: [UInt8] = []) -> [UInt8] {
        requestHeaders(stream: stream, path: path)
            + frame(type: data, flags: 0x1, stream: stream, [0] + RawHTTP2Peer.bigEndian(UInt32(message.count)) + message)
    }

    static func reset(stream: UInt32, code: UInt32 = cancel) -> [UInt8] {
        frame(type: rstStream, stream: stream, RawHTTP2Peer.bigEndian(code))
    }

    /// An HPACK integer with an `prefixBits`-bit prefix (RFC 7541, 5.1), the flags in `first`.
    static func hpackInteger(_ value: Int, prefixBits: Int, first: UInt8) -> [UInt8] {
        let limit = (1 << prefixBits) - 1
        guard value >= limit else { return [first | UInt8(value)] }
        var bytes = [first | UInt8(limit)]
        var rest = value - limit
        while rest >= 128 {
            bytes.append(UInt8(rest % 128) | 0x80)
            rest /= 128
        }
        return bytes + [UInt8(rest)]
    }

    /// A literal header field with a new name, without Huffman coding: not indexed, or with
    /// incremental indexing (it then enters the server's dynamic table).
    static func hpackLiteral(_ name: String, _ value: String, indexed: Bool = false) -> [UInt8] {
        (indexed ? [0x40] : [0x00]) + hpackInteger(name.utf8.count, prefixBits: 7, first: 0) + Array(name.utf8)
            + hpackInteger(value.utf8.count, prefixBits: 7, first: 0) + Array(value.utf8)
    }

    /// Reads until `done` holds for the frames so far, the server closes, or `timeout` passes.
    /// Returns all frames read so far.
    @discardableResult
    func read(for timeout: Duration, until done: ([RawHTTP2Frame]) -> Bool = { _ in false }) -> [RawHTTP2Frame] {
        let deadline = ContinuousClock.now + timeout
        while !closed, !done(frames), ContinuousClock.now < deadline {
            switch connection.receive(timeout: min(.milliseconds(50), max(.milliseconds(1), deadline - ContinuousClock.now))) {
            case .bytes(let bytes):
                pending += bytes
                while let frame = takeFrame() { frames.append(frame) }
            case .closed: closed = true
            case .timedOut: continue
            }
        }
        return frames
    }

    /// Reads until the server closes the connection, at most `timeout`; true when it did.
    func waitForClose(timeout: Duration) -> Bool {
        read(for: timeout)
        return closed
    }

    private func takeFrame() -> RawHTTP2Frame? {
        guard var frame = RawHTTP2Frame.take(from: &pending) else { return nil }
        switch frame.type {
        case Self.headers:
            var block = ByteBuffer(bytes: frame.payload)
            frame.headers = try? decoder.decodeHeaders(from: &block)
        case Self.settings where !frame.isAck && acknowledgesSettings:
            send(Self.frame(type: Self.settings, flags: 0x1, stream: 0, []))
        case Self.ping where !frame.isAck && answersPings:
            send(Self.frame(type: Self.ping, flags: 0x1, stream: 0, frame.payload))
        default:
            break
        }
        return frame
    }

    // MARK: - What the server sent

    /// The server's GOAWAYs, in order.
    var goAways: [RawHTTP2Peer.GoAway] {
        frames.filter { $0.type == Self.goAway && $0.payload.count >= 8 }.map {
            RawHTTP2Peer.GoAway(
                lastStreamID: RawHTTP2Peer.uint32($0.payload, at: 0) & 0x7fff_ffff, errorCode: RawHTTP2Peer.uint32($0.payload, at: 4))
        }
    }

    /// The `grpc-status` the server sent on `stream`, if any.
    func grpcStatus(of stream: UInt32) -> String? {
        frames.lazy.filter { $0.type == Self.headers && $0.streamID == stream }.compactMap { $0.headers?.first(name: "grpc-status") }.first
    }

    /// Whether the server sent any HEADERS on `stream`.
    func answered(_ stream: UInt32) -> Bool {
        frames.contains { $0.type == Self.headers && $0.streamID == stream }
    }

    /// The error code of the server's RST_STREAM on `stream`, if any.
    func resetCode(of stream: UInt32) -> UInt32? {
        frames.first { $0.type == Self.rstStream && $0.streamID == stream && $0.payload.count == 4 }.map {
            RawHTTP2Peer.uint32($0.payload, at: 0)
        }
    }

    /// The parameters of the server's first SETTINGS frame (identifier -> value).
    var serverSettings: [UInt16: UInt32]? {
        guard let frame = frames.first(where: { $0.type == Self.settings && !$0.isAck }) else { return nil }
        var settings: [UInt16: UInt32] = [:]
        for offset in stride(from: 0, to: frame.payload.count - 5, by: 6) {
            settings[UInt16(frame.payload[offset]) << 8 | UInt16(frame.payload[offset + 1])] = RawHTTP2Peer.uint32(
                frame.payload, at: offset + 2)
        }
        return settings
    }
}

/// A TCP connection to a loopback port from a chosen loopback source address (127.0.0.2, say), so
/// that one test can be two peers on either side of an allow-list. Only says whether the server
/// speaks to it or closes it.
final class LoopbackClient: @unchecked Sendable {
    private let fd: Int32

    init(from source: String, to port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        local.sin_addr.s_addr = inet_addr(source)
        var remote = sockaddr_in()
        remote.sin_family = sa_family_t(AF_INET)
        remote.sin_addr.s_addr = inet_addr("127.0.0.1")
        remote.sin_port = UInt16(port).bigEndian
        let size = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, size) == 0 } }
        let connected = withUnsafePointer(to: &remote) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, size) == 0 }
        }
        guard bound, connected else {
            close(fd)
            throw POSIXError(.ECONNREFUSED)
        }
        _ = PluginConnectionTests.http2Preface.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    deinit { close(fd) }

    /// Waits up to `timeout` for the server's first bytes: true when some arrived, false when it
    /// closed the connection or sent nothing.
    func serverSpoke(timeout: Duration) -> Bool {
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&descriptor, 1, Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)) > 0
        else {
            return false
        }
        var buffer = [UInt8](repeating: 0, count: 1024)
        return buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) } > 0
    }
}
