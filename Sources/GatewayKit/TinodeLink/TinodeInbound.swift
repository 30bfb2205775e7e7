import Foundation
import GRPCOverHTTP2
import NIOCore
import NIOHPACK
import NIOHTTP2
import SwiftProtobuf
import TinodeProto

/// The messages Tinode sends on one `MessageLoop` stream, in order, read from the stream's HTTP/2
/// frames as the consumer asks for them: the session iterates it on its own actor, so a message
/// costs no hop between the connection and the session.
///
/// It ends (nil) at trailers with `grpc-status: 0`; any other end throws a ``TinodeLinkError``: a
/// status other than OK, a reset stream, a lost connection, or a response gRPC does not allow.
public struct TinodeInbound: AsyncSequence, Sendable {
    public typealias Element = Pbx_ServerMsg

    private let frames: NIOAsyncChannelInboundStream<HTTP2Frame.FramePayload>
    private let maximumMessageBytes: Int
    /// Why the stream ended when the frames stop without trailers: the connection's reason, if any.
    private let connectionLoss: @Sendable () -> TinodeConnectionCloseReason?

    init(
        frames: NIOAsyncChannelInboundStream<HTTP2Frame.FramePayload>, maximumMessageBytes: Int,
        connectionLoss: @escaping @Sendable () -> TinodeConnectionCloseReason?
    ) {
        self.frames = frames
        self.maximumMessageBytes = maximumMessageBytes
        self.connectionLoss = connectionLoss
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(
            frames: frames.makeAsyncIterator(), deframer: GRPCMessageDeframer(maximumMessageBytes: maximumMessageBytes),
            connectionLoss: connectionLoss)
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        private var frames: NIOAsyncChannelInboundStream<HTTP2Frame.FramePayload>.AsyncIterator
        private var deframer: GRPCMessageDeframer
        private let connectionLoss: @Sendable () -> TinodeConnectionCloseReason?
        private var phase = Phase.awaitingHead

        private enum Phase {
            case awaitingHead
            case open
            case ended
        }

        init(
            frames: NIOAsyncChannelInboundStream<HTTP2Frame.FramePayload>.AsyncIterator, deframer: GRPCMessageDeframer,
            connectionLoss: @escaping @Sendable () -> TinodeConnectionCloseReason?
        ) {
            self.frames = frames
            self.deframer = deframer
            self.connectionLoss = connectionLoss
        }

        public mutating func next() async throws -> Pbx_ServerMsg? {
            while true {
                if case .ended = phase { return nil }
                if let message = try nextMessage() { return message }
                let frame: HTTP2Frame.FramePayload?
                do {
                    frame = try await frames.next()
                } catch let closed as NIOHTTP2Errors.StreamClosed {
                    phase = .ended
                    if let reason = connectionLoss() { throw TinodeLinkError.connectionLost(reason) }
                    throw TinodeLinkError.streamReset(closed.errorCode)
                } catch {
                    phase = .ended
                    if let reason = connectionLoss() { throw TinodeLinkError.connectionLost(reason) }
                    throw error
                }
                guard let frame else {
                    phase = .ended
                    if let reason = connectionLoss() { throw TinodeLinkError.connectionLost(reason) }
                    throw TinodeLinkError.streamEnded
                }
                switch frame {
                case .headers(let headers):
                    try receivedHeaders(headers)
                case .data(let data):
                    guard case .open = phase else { throw fail("DATA before the response head") }
                    if case .byteBuffer(let bytes) = data.data { deframer.append(bytes) }
                    if data.endStream { throw fail("the stream ended without trailers") }
                case .rstStream(let code):
                    phase = .ended
                    throw TinodeLinkError.streamReset(code)
                default:
                    continue
                }
            }
        }

        private mutating func nextMessage() throws -> Pbx_ServerMsg? {
            let bytes: ByteBuffer?
            do {
                bytes = try deframer.next()
            } catch .compressed {
                throw fail("a compressed message (no encoding was offered)")
            } catch .messageTooLarge(let length, let limit) {
                throw fail("a message of \(length) bytes, over the limit of \(limit)")
            }
            guard let bytes else { return nil }
            do {
                return try Pbx_ServerMsg(serializedBytes: ProtobufBytes(bytes))
            } catch {
                throw fail("a message that is not a ServerMsg (\(error))")
            }
        }

        private mutating func receivedHeaders(_ headers: HTTP2Frame.FramePayload.Headers) throws {
            switch phase {
            case .awaitingHead:
                guard let status = headers.headers.first(name: ":status") else { throw fail("a response head without :status") }
                guard status == "200" else {
                    // Not a gRPC answer: a proxy's or a misconfigured port's. gRPC maps these to
                    // UNAVAILABLE and similar; the session only needs to know the call is over.
                    phase = .ended
                    throw TinodeLinkError.callFailed(status: 14, message: "HTTP status \(status)")
                }
                guard GRPCWire.isGRPCContentType(headers.headers.first(name: "content-type")) else {
                    throw fail("content-type \(headers.headers.first(name: "content-type") ?? "none")")
                }
                phase = .open
                // Trailers-only: the whole answer is this one HEADERS frame.
                if headers.endStream { try receivedTrailers(headers.headers) }
            case .open:
                guard headers.endStream else { throw fail("HEADERS in the middle of the stream") }
                try receivedTrailers(headers.headers)
            case .ended:
                break
            }
        }

        /// The call's end: fine at status 0 with no partial message left, an error otherwise.
        private mutating func receivedTrailers(_ trailers: HPACKHeaders) throws {
            phase = .ended
            guard let text = trailers.first(name: "grpc-status"), let status = Int(text) else {
                throw TinodeLinkError.protocolViolation("trailers without grpc-status")
            }
            guard status == 0 else {
                let message = trailers.first(name: "grpc-message").map(GRPCWire.percentDecoded) ?? ""
                throw TinodeLinkError.callFailed(status: status, message: String(message.prefix(200)))
            }
            if deframer.bufferedBytes > 0 { throw TinodeLinkError.protocolViolation("the stream ended inside a message") }
        }

        private mutating func fail(_ what: String) -> TinodeLinkError {
            phase = .ended
            return .protocolViolation(what)
        }
    }
}

/// A `ByteBuffer` as SwiftProtobuf's input, so that a message is decoded from the frame's own bytes
/// without copying them into an array first.
struct ProtobufBytes: SwiftProtobufContiguousBytes {
    var buffer: ByteBuffer

    init(_ buffer: ByteBuffer) {
        self.buffer = buffer
    }

    init(repeating: UInt8, count: Int) {
        buffer = ByteBuffer(repeating: repeating, count: count)
    }

    init<S: Sequence>(_ sequence: S) where S.Element == UInt8 {
        buffer = ByteBuffer(bytes: sequence)
    }

    var count: Int { buffer.readableBytes }

    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try buffer.withUnsafeReadableBytes(body)
    }

    mutating func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try buffer.withUnsafeMutableReadableBytes(body)
    }
}
