import GRPCOverHTTP2
import NIOCore
import NIOHTTP2
import TinodeProto

/// A session's messages written straight to their HTTP/2 stream: each one framed as gRPC (5-byte
/// prefix, uncompressed) in one DATA frame, flushed at once. `Channel` writes are safe from any
/// thread and keep their order, so the session needs no queue or writer task of its own.
struct ChannelStreamWriter: TinodeStreamWriter {
    let channel: any Channel

    func write(_ message: Pbx_ClientMsg) -> Bool {
        guard channel.isActive, let bytes: [UInt8] = try? message.serializedBytes() else { return false }
        let frame = HTTP2Frame.FramePayload.data(.init(data: .byteBuffer(GRPCWire.framed(bytes, allocator: channel.allocator))))
        channel.writeAndFlush(frame, promise: nil)
        return true
    }

    func finish() {
        channel.writeAndFlush(HTTP2Frame.FramePayload.data(.init(data: .byteBuffer(ByteBuffer()), endStream: true)), promise: nil)
    }

    func cancel() {
        channel.close(promise: nil)
    }
}
