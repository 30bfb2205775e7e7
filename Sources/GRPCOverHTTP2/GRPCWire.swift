import GRPCCore
import NIOCore
import NIOHPACK

/// The parts of gRPC's HTTP/2 mapping that the plugin port (a unary server) and the Gateway's link to
/// Tinode (a streaming client) share (the "gRPC over HTTP2" protocol description): the
/// length-prefixed message, `grpc-timeout`, content types, and the status in the trailers.
public enum GRPCWire {
    /// The response head of every answer that carries a message.
    public static let responseHead = HPACKHeaders([(":status", "200"), ("content-type", "application/grpc")])

    /// The trailers of every successful answer.
    public static let okTrailers = HPACKHeaders([("grpc-status", "0")])

    /// Whether a request's `content-type` is gRPC with the protobuf encoding: `application/grpc`,
    /// `application/grpc+proto`, either with parameters (`; charset=...`).
    public static func isGRPCContentType(_ value: String?) -> Bool {
        if value == "application/grpc" { return true }  // what every gRPC client sends, at no cost
        guard var value = value?.lowercased() else { return false }
        if let semicolon = value.firstIndex(of: ";") { value = String(value[..<semicolon]) }
        value = value.trimmingSpaces
        return value == "application/grpc" || value == "application/grpc+proto"
    }

    /// A `grpc-timeout` value: 1 to 8 ASCII digits and a unit (`H`, `M`, `S`, `m`, `u`, `n`).
    /// Tinode sends its plugin `timeout` this way. Nil when the value does not follow that form.
    public static func timeout(_ value: String) -> Duration? {
        let utf8 = Array(value.utf8)
        guard (2...9).contains(utf8.count), let unit = utf8.last else { return nil }
        var amount: Int64 = 0
        for digit in utf8.dropLast() {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(digit) else { return nil }
            amount = amount * 10 + Int64(digit - UInt8(ascii: "0"))
        }
        switch unit {
        case UInt8(ascii: "H"): return .seconds(amount * 3600)
        case UInt8(ascii: "M"): return .seconds(amount * 60)
        case UInt8(ascii: "S"): return .seconds(amount)
        case UInt8(ascii: "m"): return .milliseconds(amount)
        case UInt8(ascii: "u"): return .microseconds(amount)
        case UInt8(ascii: "n"): return .nanoseconds(amount)
        default: return nil
        }
    }

    /// The single message of a unary request body, or the error that refuses the body.
    public static func requestMessage(in body: inout ByteBuffer) -> Result<[UInt8], RPCError> {
        guard let compressed: UInt8 = body.readInteger(), let length: UInt32 = body.readInteger() else {
            return .failure(RPCError(code: .internalError, message: "the request carried no message"))
        }
        // No `grpc-accept-encoding` is ever advertised, so a conforming client never compresses.
        guard compressed == 0 else {
            return .failure(RPCError(code: .unimplemented, message: "compressed messages are not supported"))
        }
        guard Int(length) == body.readableBytes, let bytes = body.readBytes(length: Int(length)) else {
            return .failure(
                RPCError(code: .internalError, message: "the request body is not exactly one length-prefixed message"))
        }
        return .success(bytes)
    }

    /// `message` with gRPC's length prefix (not compressed), ready to send as DATA.
    public static func framed(_ message: [UInt8], allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 5 + message.count)
        buffer.writeInteger(UInt8(0))
        buffer.writeInteger(UInt32(message.count))
        buffer.writeBytes(message)
        return buffer
    }

    /// The whole answer of a call that fails before it has a message ("trailers-only"): the
    /// response head with `grpc-status` and `grpc-message`.
    public static func trailersOnly(for error: RPCError) -> HPACKHeaders {
        var headers = responseHead
        headers.add(name: "grpc-status", value: String(Status.Code(error.code).rawValue))
        if !error.message.isEmpty { headers.add(name: "grpc-message", value: percentEncoded(error.message)) }
        return headers
    }

    /// A `grpc-message` as sent: percent-escapes decoded, invalid escapes kept as they are, and the
    /// result read as UTF-8 (invalid sequences replaced). Bounded by the header list size.
    public static func percentDecoded(_ text: String) -> String {
        let bytes = Array(text.utf8)
        var decoded: [UInt8] = []
        decoded.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count,
                let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2])
            {
                decoded.append(high << 4 | low)
                index += 3
            } else {
                decoded.append(bytes[index])
                index += 1
            }
        }
        return String(decoding: decoded, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// `grpc-message` is percent-encoded UTF-8: every byte outside printable ASCII, and `%`.
    public static func percentEncoded(_ text: String) -> String {
        var encoded = ""
        for byte in text.utf8 {
            if byte >= 0x20, byte <= 0x7E, byte != UInt8(ascii: "%") {
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let hex = Array("0123456789ABCDEF".utf8)
                encoded.unicodeScalars.append("%")
                encoded.unicodeScalars.append(Unicode.Scalar(hex[Int(byte >> 4)]))
                encoded.unicodeScalars.append(Unicode.Scalar(hex[Int(byte & 0xF)]))
            }
        }
        return encoded
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        var view = Substring(self)
        while view.first == " " || view.first == "\t" { view.removeFirst() }
        while view.last == " " || view.last == "\t" { view.removeLast() }
        return String(view)
    }
}
