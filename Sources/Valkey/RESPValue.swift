/// One reply from the server, in the RESP2 shapes that hiredis 0.14 understands.
///
/// Bulk strings are raw bytes because Valkey values are binary-safe; use ``string`` when the value is
/// known to be text.
public enum RESPValue: Sendable, Hashable {
    /// A status reply such as `OK` or `PONG`.
    case simpleString(String)
    /// An error reply. ``ValkeyClient`` throws a top-level error reply as ``ValkeyError/serverError(message:)``,
    /// so this case is only seen inside arrays (for example in the results of `EXEC`).
    case error(String)
    case integer(Int64)
    case bulkString([UInt8])
    /// A nil bulk string or nil array: the key does not exist, `SET NX` did not set, ...
    case null
    case array([RESPValue])
}

extension RESPValue {
    /// The text of a status or bulk-string reply (bulk bytes decoded as UTF-8); `nil` otherwise.
    public var string: String? {
        switch self {
        case .simpleString(let text): text
        case .bulkString(let bytes): String(decoding: bytes, as: UTF8.self)
        default: nil
        }
    }

    /// The bytes of a bulk-string or status reply; `nil` otherwise.
    public var bytes: [UInt8]? {
        switch self {
        case .bulkString(let bytes): bytes
        case .simpleString(let text): Array(text.utf8)
        default: nil
        }
    }

    /// The value of an integer reply; `nil` otherwise.
    public var integer: Int64? {
        if case .integer(let value) = self { value } else { nil }
    }

    /// The elements of an array reply; `nil` otherwise.
    public var array: [RESPValue]? {
        if case .array(let values) = self { values } else { nil }
    }

    public var isNull: Bool {
        if case .null = self { true } else { false }
    }
}
