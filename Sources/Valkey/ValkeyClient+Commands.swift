/// Typed helpers for the commands the stores use. Each one throws ``ValkeyError/protocol(reason:)`` when
/// the reply does not have the shape the command documents.
extension ValkeyClient {
    /// Checks that the server answers (`PING`).
    public func ping() async throws {
        let reply = try await command(["PING"])
        guard reply.string == "PONG" else { throw Self.unexpected(reply, to: "PING") }
    }

    /// The value at `key`, or `nil` when the key does not exist (or has expired).
    public func get(_ key: String) async throws -> [UInt8]? {
        let reply = try await command(["GET", key])
        switch reply {
        case .null: return nil
        case .bulkString(let bytes): return bytes
        default: throw Self.unexpected(reply, to: "GET")
        }
    }

    /// Publishes `message` on a pub/sub channel; returns how many subscribers (of this server) got it.
    @discardableResult
    public func publish(_ message: [UInt8], to channel: String) async throws -> Int {
        let reply = try await command(bytes: [Array("PUBLISH".utf8), Array(channel.utf8), message])
        guard let receivers = reply.integer else { throw Self.unexpected(reply, to: "PUBLISH") }
        return Int(receivers)
    }

    /// The value at `key` decoded as UTF-8, or `nil` when the key does not exist.
    public func getString(_ key: String) async throws -> String? {
        try await get(key).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Stores `value` at `key`.
    ///
    /// - Parameters:
    ///   - expiration: Time to live; whole seconds are sent as `EX`, anything finer as `PX` (rounded up to
    ///     the next millisecond so that a short TTL never becomes zero).
    ///   - onlyIfNotExists: Sends `NX`: the value is stored only when the key does not exist yet.
    /// - Returns: `false` when `NX` prevented the write, `true` otherwise.
    @discardableResult
    public func set(
        _ key: String,
        to value: [UInt8],
        expiration: Duration? = nil,
        onlyIfNotExists: Bool = false
    ) async throws -> Bool {
        var arguments: [[UInt8]] = [Array("SET".utf8), Array(key.utf8), value]
        if let expiration {
            let (seconds, attoseconds) = expiration.components
            let option = attoseconds == 0 ? ["EX", String(seconds)] : ["PX", String(Self.milliseconds(expiration))]
            arguments += option.map { Array($0.utf8) }
        }
        if onlyIfNotExists { arguments.append(Array("NX".utf8)) }
        let reply = try await command(bytes: arguments)
        switch reply {
        case .null: return false
        case .simpleString: return true
        default: throw Self.unexpected(reply, to: "SET")
        }
    }

    /// Stores the UTF-8 text `value` at `key`; the options are those of the byte-array variant.
    @discardableResult
    public func set(
        _ key: String,
        to value: String,
        expiration: Duration? = nil,
        onlyIfNotExists: Bool = false
    ) async throws -> Bool {
        try await set(key, to: Array(value.utf8), expiration: expiration, onlyIfNotExists: onlyIfNotExists)
    }

    /// Deletes keys and returns how many existed.
    @discardableResult
    public func del(_ keys: String...) async throws -> Int {
        try await del(keys)
    }

    /// Deletes keys and returns how many existed.
    @discardableResult
    public func del(_ keys: [String]) async throws -> Int {
        guard !keys.isEmpty else { return 0 }
        return try await integer(["DEL"] + keys)
    }

    /// Sets a time to live in seconds; returns `false` when the key does not exist.
    @discardableResult
    public func expire(_ key: String, seconds: Int) async throws -> Bool {
        try await integer(["EXPIRE", key, String(seconds)]) == 1
    }

    /// Sets a time to live in milliseconds; returns `false` when the key does not exist.
    @discardableResult
    public func pexpire(_ key: String, milliseconds: Int) async throws -> Bool {
        try await integer(["PEXPIRE", key, String(milliseconds)]) == 1
    }

    /// Remaining time to live in seconds, with the server's conventions: -1 when the key has no expiry,
    /// -2 when it does not exist.
    public func ttl(_ key: String) async throws -> Int {
        try await integer(["TTL", key])
    }

    /// Remaining time to live in milliseconds (-1: no expiry, -2: no such key).
    public func pttl(_ key: String) async throws -> Int {
        try await integer(["PTTL", key])
    }

    /// Adds members to a set and returns how many were new.
    @discardableResult
    public func sadd(_ key: String, _ members: String...) async throws -> Int {
        try await sadd(key, members)
    }

    /// Adds members to a set and returns how many were new.
    @discardableResult
    public func sadd(_ key: String, _ members: [String]) async throws -> Int {
        guard !members.isEmpty else { return 0 }
        return try await integer(["SADD", key] + members)
    }

    /// Removes members from a set and returns how many were there.
    @discardableResult
    public func srem(_ key: String, _ members: String...) async throws -> Int {
        try await srem(key, members)
    }

    /// Removes members from a set and returns how many were there.
    @discardableResult
    public func srem(_ key: String, _ members: [String]) async throws -> Int {
        guard !members.isEmpty else { return 0 }
        return try await integer(["SREM", key] + members)
    }

    /// The members of a set (empty when the key does not exist), in no particular order.
    public func smembers(_ key: String) async throws -> [String] {
        let reply = try await command(["SMEMBERS", key])
        guard let elements = reply.array else { throw Self.unexpected(reply, to: "SMEMBERS") }
        return try elements.map { element in
            guard let member = element.string else { throw Self.unexpected(element, to: "SMEMBERS") }
            return member
        }
    }

    /// Increments the integer at `key` (a missing key counts as 0) and returns the new value.
    @discardableResult
    public func incr(_ key: String) async throws -> Int64 {
        let reply = try await command(["INCR", key])
        guard let value = reply.integer else { throw Self.unexpected(reply, to: "INCR") }
        return value
    }

    private func integer(_ arguments: [String]) async throws -> Int {
        let reply = try await command(arguments)
        guard let value = reply.integer else { throw Self.unexpected(reply, to: arguments[0]) }
        return Int(value)
    }

    static func unexpected(_ reply: RESPValue, to command: String) -> ValkeyError {
        .protocol(reason: "unexpected reply to \(command): \(reply.kind)")
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        let attosecondsPerMillisecond: Int64 = 1_000_000_000_000_000
        let (whole, rest) = attoseconds.quotientAndRemainder(dividingBy: attosecondsPerMillisecond)
        return seconds * 1000 + whole + (rest > 0 ? 1 : 0)
    }
}

extension RESPValue {
    /// The reply's type, for error messages (never its content, which may be sensitive).
    var kind: String {
        switch self {
        case .simpleString: "simple string"
        case .error: "error"
        case .integer: "integer"
        case .bulkString: "bulk string"
        case .null: "null"
        case .array: "array"
        }
    }
}
