import CHiredis

/// Turns the bytes a server sends into replies, with hiredis's incremental RESP reader.
///
/// Bytes may arrive split anywhere (inside a bulk string, between the parts of an array); the reader keeps
/// what it cannot use yet and hands out each reply once it is complete. An instance belongs to one
/// connection's channel handler and is only used on that channel's event loop.
final class ReplyParser {
    private let reader: UnsafeMutablePointer<redisReader>

    init() throws(ValkeyError) {
        guard let reader = redisReaderCreate() else {
            throw .protocol(reason: "cannot allocate a hiredis reply reader")
        }
        self.reader = reader
    }

    deinit {
        redisReaderFree(reader)
    }

    /// Appends received bytes to what the reader holds.
    func feed(_ bytes: UnsafeRawBufferPointer) throws(ValkeyError) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        if redisReaderFeed(reader, base.assumingMemoryBound(to: CChar.self), bytes.count) != REDIS_OK {
            throw .protocol(reason: errorText)
        }
    }

    /// The next complete reply, or `nil` when more bytes are needed.
    ///
    /// - Throws: ``ValkeyError/protocol(reason:)`` when the bytes are not RESP; the connection cannot be
    ///   trusted after that.
    func nextReply() throws(ValkeyError) -> RESPValue? {
        var raw: UnsafeMutableRawPointer?
        guard redisReaderGetReply(reader, &raw) == REDIS_OK else {
            throw .protocol(reason: errorText)
        }
        guard let raw else { return nil }
        defer { freeReplyObject(raw) }
        return try RESPValue(copying: raw.assumingMemoryBound(to: redisReply.self))
    }

    private var errorText: String {
        withUnsafeBytes(of: reader.pointee.errstr) { raw in
            let bytes = raw.prefix { $0 != 0 }
            return bytes.isEmpty ? "unreadable reply" : String(decoding: bytes, as: UTF8.self)
        }
    }
}

extension RESPValue {
    /// Copies a hiredis reply (recursively) so that it can be freed right after.
    init(copying reply: UnsafePointer<redisReply>) throws(ValkeyError) {
        let node = reply.pointee
        switch node.type {
        case REDIS_REPLY_STRING:
            self = .bulkString(Self.bytes(node.str, node.len))
        case REDIS_REPLY_STATUS:
            self = .simpleString(String(decoding: Self.bytes(node.str, node.len), as: UTF8.self))
        case REDIS_REPLY_ERROR:
            self = .error(String(decoding: Self.bytes(node.str, node.len), as: UTF8.self))
        case REDIS_REPLY_INTEGER:
            self = .integer(Int64(node.integer))
        case REDIS_REPLY_NIL:
            self = .null
        case REDIS_REPLY_ARRAY:
            var elements: [RESPValue] = []
            elements.reserveCapacity(node.elements)
            for index in 0..<node.elements {
                guard let element = node.element?[index] else {
                    throw .protocol(reason: "array reply with a missing element")
                }
                elements.append(try RESPValue(copying: element))
            }
            self = .array(elements)
        default:
            throw .protocol(reason: "unknown reply type \(node.type)")
        }
    }

    private static func bytes(_ pointer: UnsafeMutablePointer<CChar>?, _ length: Int) -> [UInt8] {
        guard let pointer, length > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: length))
    }
}
