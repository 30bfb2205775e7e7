import Foundation
import Valkey

/// The production ``TokenStore``: records live in Valkey, shared by every Gateway and AuthPlugin process.
///
/// Keys, under a configurable prefix (default `sidecar:`):
/// * `<prefix>access:<accessID>`: the record as JSON, expiring with the access token (`PX`).
/// * `<prefix>user:<userID>:access`: the set of the user's access ids, kept alive as long as the longest
///   record, so that ``deleteAll(userID:)`` finds them all. Members whose record has expired or was
///   deleted are harmless and are pruned on the user's next ``put(_:ttl:)``.
///
/// Writes that touch both keys run as Lua scripts, which the server executes atomically: a concurrent
/// `deleteAll` can never leave a record behind that its index no longer lists.
public struct ValkeyTokenStore: TokenStore {
    private let client: ValkeyClient
    private let keyPrefix: String
    private let decoded = DecodedTokenRecords()

    public init(client: ValkeyClient, keyPrefix: String = "sidecar:") {
        self.client = client
        self.keyPrefix = keyPrefix
    }

    public func put(_ record: TokenRecord, ttl: Duration) async throws {
        let milliseconds = Self.milliseconds(ttl)
        guard milliseconds > 0 else { throw TokenStoreError.invalidTTL }
        let json = String(decoding: try Self.encoder.encode(record), as: UTF8.self)
        _ = try await storeOperation {
            try await client.evaluate(
                Self.putScript,
                keys: [accessKey(record.accessID), userKey(record.userID)],
                arguments: [json, String(milliseconds), record.accessID, accessKeyPrefix]
            )
        }
    }

    public func get(accessID: String) async throws -> TokenRecord? {
        // Valkey expires keys itself, so a missing key covers both "never stored" and "expired". Records
        // are read on every request and written once per login: served from memory until Valkey reports
        // a change (logout and revocation delete the key, and the report drops it at once).
        guard let bytes = try await storeOperation({ try await client.cachedGet(accessKey(accessID)) }) else { return nil }
        if let record = decoded.record(for: accessID, bytes: bytes) { return record }
        do {
            let record = try Self.decoder.decode(TokenRecord.self, from: Data(bytes))
            decoded.remember(record, for: accessID, bytes: bytes)
            return record
        } catch {
            throw TokenStoreError.corruptRecord(accessID: accessID)
        }
    }

    public func delete(accessID: String) async throws {
        // The user's index keeps the id until the next put prunes it; looking the user up first would cost a
        // round trip on every logout for no visible gain.
        _ = try await storeOperation { try await client.del(accessKey(accessID)) }
        // Valkey's report reaches every process's cache within moments; this process forgets at once, so
        // that its very next request cannot see the record.
        client.forgetCached(accessKey(accessID))
    }

    public func deleteAll(userID: String) async throws -> Int {
        let reply = try await storeOperation {
            try await client.evaluate(Self.deleteAllScript, keys: [userKey(userID)], arguments: [accessKeyPrefix])
        }
        client.forgetCached()
        guard let removed = reply.integer else {
            throw TokenStoreError.backend(.protocol(reason: "unexpected reply to the delete-all script"))
        }
        return Int(removed)
    }

    private var accessKeyPrefix: String { keyPrefix + "access:" }

    private func accessKey(_ accessID: String) -> String { accessKeyPrefix + accessID }

    private func userKey(_ userID: String) -> String { keyPrefix + "user:" + userID + ":access" }

    /// Rounds up so that a sub-millisecond remainder never shortens a token's life.
    private static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        let perMillisecond: Int64 = 1_000_000_000_000_000
        let (whole, rest) = attoseconds.quotientAndRemainder(dividingBy: perMillisecond)
        return seconds * 1000 + whole + (rest > 0 ? 1 : 0)
    }

    // Dates use Foundation's default encoding (seconds since 2001 as a JSON number), which round-trips a
    // `Date` exactly, so a record read back equals the record written, as with the in-memory store.
    private static let encoder = JSONEncoder()
    private static let decoder = JSONDecoder()

    /// KEYS: record key, user index. ARGV: JSON, TTL in ms, access id, record key prefix.
    private static let putScript = ValkeyScript(
        """
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
        redis.call('SADD', KEYS[2], ARGV[3])
        for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
          if redis.call('EXISTS', ARGV[4] .. id) == 0 then
            redis.call('SREM', KEYS[2], id)
          end
        end
        local ttl = tonumber(ARGV[2])
        if redis.call('PTTL', KEYS[2]) < ttl then
          redis.call('PEXPIRE', KEYS[2], ttl)
        end
        return 1
        """
    )

    /// KEYS: user index. ARGV: record key prefix. Returns how many records existed.
    private static let deleteAllScript = ValkeyScript(
        """
        local removed = 0
        for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
          removed = removed + redis.call('DEL', ARGV[1] .. id)
        end
        redis.call('DEL', KEYS[1])
        return removed
        """
    )
}
