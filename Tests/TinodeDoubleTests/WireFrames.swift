import NIOCore

/// HTTP/2 frames as bytes, written by hand (RFC 9113 section 4.1: 24-bit length, type, flags,
/// 31-bit stream id, payload), for the tests of the grpc-go wire emulation.
enum WireFrames {
    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    /// The payload of the emulation's PINGs (grpc-go's BDP ping data).
    static let goPingData: [UInt8] = [2, 4, 16, 16, 9, 14, 7, 7]

    static func frame(type: UInt8, flags: UInt8 = 0, stream: UInt32 = 0, _ payload: [UInt8] = []) -> [UInt8] {
        let length = payload.count
        return [UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF), type, flags]
            + bigEndian(stream) + payload
    }

    static func settings(ack: Bool = false) -> [UInt8] {
        frame(type: 4, flags: ack ? 1 : 0)
    }

    /// A HEADERS frame; the rules never decode its block, so any bytes do.
    static func headers(stream: UInt32, endStream: Bool = false, block: [UInt8] = [0x82, 0x86]) -> [UInt8] {
        frame(type: 1, flags: 0x4 | (endStream ? 0x1 : 0), stream: stream, block)
    }

    static func data(stream: UInt32, count: Int, endStream: Bool = false) -> [UInt8] {
        frame(type: 0, flags: endStream ? 1 : 0, stream: stream, [UInt8](repeating: 0x61, count: count))
    }

    static func ping(ack: Bool = false, _ data: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]) -> [UInt8] {
        frame(type: 6, flags: ack ? 1 : 0, data)
    }

    static func windowUpdate(stream: UInt32 = 0, increment: UInt32) -> [UInt8] {
        frame(type: 8, stream: stream, bigEndian(increment))
    }

    static func rstStream(stream: UInt32, code: UInt32 = 8) -> [UInt8] {
        frame(type: 3, stream: stream, bigEndian(code))
    }

    static func goAway(lastStream: UInt32, code: UInt32, debug: String = "") -> [UInt8] {
        frame(type: 7, bigEndian(lastStream) + bigEndian(code) + Array(debug.utf8))
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24 & 0xFF), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    /// One parsed frame.
    struct Frame: Equatable, CustomStringConvertible {
        var type: UInt8
        var flags: UInt8
        var stream: UInt32
        var payload: [UInt8]

        var description: String { "frame(type \(type), flags \(flags), stream \(stream), \(payload.count) bytes)" }

        /// The first 32-bit big-endian number at `offset` of the payload.
        func number(at offset: Int) -> UInt32 {
            payload[offset..<(offset + 4)].reduce(0) { $0 << 8 | UInt32($1) }
        }
    }

    /// Splits `bytes` into whole frames; what is left (a partial frame) stays in `bytes`.
    static func parse(_ bytes: inout [UInt8]) -> [Frame] {
        var frames: [Frame] = []
        var offset = 0
        while bytes.count - offset >= 9 {
            let length = Int(bytes[offset]) << 16 | Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2])
            guard bytes.count - offset >= 9 + length else { break }
            let stream = bytes[(offset + 5)..<(offset + 9)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) } & 0x7FFF_FFFF
            frames.append(
                Frame(
                    type: bytes[offset + 3], flags: bytes[offset + 4], stream: stream,
                    payload: Array(bytes[(offset + 9)..<(offset + 9 + length)])))
            offset += 9 + length
        }
        bytes.removeFirst(offset)
        return frames
    }
}

extension ByteBuffer {
    var bytes: [UInt8] { Array(readableBytesView) }
}
