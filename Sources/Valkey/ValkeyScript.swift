import Synchronization

/// A Lua script that the server runs atomically, sent by digest (`EVALSHA`) after the first use.
///
/// Keep one instance per script (for example a `static let`): the instance remembers the digest the
/// server returned from `SCRIPT LOAD`, so later calls send 40 hex characters instead of the source.
/// Scripts must name the keys they touch in `KEYS` where they can, as the server's documentation asks.
public struct ValkeyScript: Sendable, Hashable {
    public let source: String
    private let digestCache: DigestCache

    public init(_ source: String) {
        self.source = source
        self.digestCache = DigestCache()
    }

    public static func == (lhs: ValkeyScript, rhs: ValkeyScript) -> Bool {
        lhs.source == rhs.source
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(source)
    }

    var cachedDigest: String? {
        get { digestCache.value.withLock { $0 } }
        nonmutating set { digestCache.value.withLock { $0 = newValue } }
    }

    /// The digest is the SHA-1 of the source on every server, so one cache per script is correct no matter
    /// how many clients or servers run it.
    private final class DigestCache: Sendable {
        let value = Mutex<String?>(nil)
    }
}

extension ValkeyClient {
    /// Runs a script with `EVALSHA`, loading it first when this instance has not seen its digest, and
    /// falling back to `EVAL` when the server has forgotten it (after a restart or `SCRIPT FLUSH`).
    public func evaluate(_ script: ValkeyScript, keys: [String] = [], arguments: [String] = []) async throws
        -> RESPValue
    {
        let digest: String
        if let cached = script.cachedDigest {
            digest = cached
        } else {
            digest = try await scriptLoad(script.source)
            script.cachedDigest = digest
        }
        do {
            return try await evalsha(digest, keys: keys, arguments: arguments)
        } catch ValkeyError.serverError(let message) where message.hasPrefix("NOSCRIPT") {
            return try await eval(script.source, keys: keys, arguments: arguments)
        }
    }

    /// `EVAL source numkeys keys... arguments...`.
    public func eval(_ source: String, keys: [String] = [], arguments: [String] = []) async throws -> RESPValue {
        try await command(["EVAL", source, String(keys.count)] + keys + arguments)
    }

    /// `EVALSHA digest numkeys keys... arguments...`.
    public func evalsha(_ digest: String, keys: [String] = [], arguments: [String] = []) async throws -> RESPValue {
        try await command(["EVALSHA", digest, String(keys.count)] + keys + arguments)
    }

    /// `SCRIPT LOAD source`; returns the script's digest.
    public func scriptLoad(_ source: String) async throws -> String {
        let reply = try await command(["SCRIPT", "LOAD", source])
        guard let digest = reply.string else { throw Self.unexpected(reply, to: "SCRIPT LOAD") }
        return digest
    }
}
