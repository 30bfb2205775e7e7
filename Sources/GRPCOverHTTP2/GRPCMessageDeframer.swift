import NIOCore

/// Cuts a stream's DATA bytes into gRPC messages: each a 1-byte compressed flag, a 4-byte
/// big-endian length and that many bytes. DATA frames split and join messages freely, so bytes are
/// gathered until a whole message is there.
public struct GRPCMessageDeframer: Sendable {
    /// Why the bytes cannot be read as messages; the call must end.
    public enum Failure: Error, Sendable, Equatable {
        /// A message announced more bytes than the limit (checked before they arrive).
        case messageTooLarge(length: Int, limit: Int)
        /// The compressed flag was set, but we never advertise an encoding.
        case compressed
    }

    private let maximumMessageBytes: Int
    private var buffer = ByteBuffer()

    public init(maximumMessageBytes: Int) {
        self.maximumMessageBytes = maximumMessageBytes
    }

    /// Bytes received but not yet part of a whole message.
    public var bufferedBytes: Int { buffer.readableBytes }

    public mutating func append(_ bytes: ByteBuffer) {
        if buffer.readableBytes == 0 {
            buffer = bytes  // the common case: no copy
        } else {
            var bytes = bytes
            buffer.writeBuffer(&bytes)
        }
    }

    /// The next whole message, or nil until more bytes arrive.
    public mutating func next() throws(Failure) -> ByteBuffer? {
        guard let flag = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self),
            let length = buffer.getInteger(at: buffer.readerIndex + 1, as: UInt32.self)
        else { return nil }
        guard flag == 0 else { throw .compressed }
        guard Int(length) <= maximumMessageBytes else { throw .messageTooLarge(length: Int(length), limit: maximumMessageBytes) }
        guard buffer.readableBytes >= 5 + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 5)
        let message = buffer.readSlice(length: Int(length))
        if buffer.readableBytes == 0 { buffer = ByteBuffer() }  // let the frame's storage go
        return message
    }
}
