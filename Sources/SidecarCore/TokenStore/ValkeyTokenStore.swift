import Foundation
import Valkey

/// The production ``TokenStore``: records live in Valkey, shared by every Gateway and AuthPlugin process.
///
/// Keys, under a configurable prefix (default `sidecar:`):
/// * `<prefix>access:<accessID>`: the record as JSON, expiring with the access token (`PX`);
/// * `<prefix>family:<familyID>:access`: the set of the login's access ids, kept alive as long as its
///   longest record (a refresh retires the others, so it holds a handful);
/// * `<prefix>user:<userID>:logins`: the user's families, scored by when they started (ms), kept alive
///   as long as the longest record; at most `maximumLogins` members;
/// * `<prefix>refresh:<familyID>` belongs to ``ValkeyRefreshFamilyStore``; it is deleted here when a
///   login is revoked, so that one script ends the access tokens and the refresh token together.
///
/// Every write is one Lua script, which the server runs atomically. A put touches only its own keys
/// and, when the user has one login too many, the oldest login's: no script walks all of a user's
/// records (the previous layout's `user:<userID>:access` set, which every put scanned, is only read
/// by ``deleteAll(userID:)`` now, so that records written before the upgrade are revoked too). The
/// scripts touch keys they learn inside the script, so the store needs a single primary, not a
/// Valkey Cluster.
public struct ValkeyTokenStore: TokenStore {
    private let client: ValkeyClient
    private let keyPrefix: String
    private let maximumLogins: Int

    /// - Parameter maximumLogins: logins (refresh families) a user keeps; the oldest is revoked beyond it.
    public init(client: ValkeyClient, keyPrefix: String = "sidecar:", maximumLogins: Int = 100) {
        self.client = client
        self.keyPrefix = keyPrefix
        self.maximumLogins = max(1, maximumLogins)
    }

    public func put(_ record: TokenRecord, ttl: Duration) async throws {
        let milliseconds = Self.milliseconds(ttl)
        guard milliseconds > 0 else { throw TokenStoreError.invalidTTL }
        let json = String(decoding: try Self.encoder.encode(record), as: UTF8.self)
        let family = record.refreshFamilyID ?? record.accessID
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        _ = try await storeOperation {
            try await client.evaluate(
                Self.putScript,
                keys: [accessKey(record.accessID), familyKey(family), loginsKey(record.userID)],
                arguments: [json, String(milliseconds), record.accessID, family, String(now), String(maximumLogins), keyPrefix]
            )
        }
    }

    public func get(accessID: String) async throws -> TokenRecord? {
        // Valkey expires keys itself, so a missing key covers both "never stored" and "expired".
        try Self.decode(try await storeOperation { try await client.get(accessKey(accessID)) }, accessID: accessID)
    }

    public func trackedGet(accessID: String) async throws -> (record: TokenRecord?, lease: TrackingLease?) {
        // Records are read on every request and written once per login: the caller keeps the decoded
        // record while the lease runs, and logout and revocation delete the key, whose report ends it.
        let (bytes, lease) = try await storeOperation { try await client.trackedGet(accessKey(accessID)) }
        return (try Self.decode(bytes, accessID: accessID), lease)
    }

    public func delete(accessID: String) async throws {
        // The user's index keeps the id until the next put prunes it; looking the user up first would cost a
        // round trip on every logout for no visible gain.
        _ = try await storeOperation { try await client.del(accessKey(accessID)) }
        // Valkey's report reaches every process within moments; this process ends the lease at once, so
        // that its very next request cannot use the record.
        client.invalidate(accessKey(accessID))
    }

    public func revokeFamily(_ familyID: String, userID: String) async throws -> Int {
        let reply = try await storeOperation {
            try await client.evaluate(
                Self.revokeFamilyScript, keys: [familyKey(familyID), loginsKey(userID)], arguments: [familyID, keyPrefix])
        }
        // The script's keys are not known here: every lease ends, as for any change this process cannot name.
        client.invalidate()
        guard let removed = reply.integer else {
            throw TokenStoreError.backend(.protocol(reason: "unexpected reply to the revoke-family script"))
        }
        return Int(removed)
    }

    public func retireFamily(_ familyID: String, except keep: String, within grace: Duration) async throws {
        _ = try await storeOperation {
            try await client.evaluate(
                Self.retireScript, keys: [familyKey(familyID)], arguments: [keep, String(max(1, Self.milliseconds(grace))), keyPrefix])
        }
    }

    public func deleteAll(userID: String) async throws -> Int {
        let reply = try await storeOperation {
            try await client.evaluate(Self.deleteAllScript, keys: [loginsKey(userID), legacyUserKey(userID)], arguments: [keyPrefix])
        }
        client.invalidate()
        guard let removed = reply.integer else {
            throw TokenStoreError.backend(.protocol(reason: "unexpected reply to the delete-all script"))
        }
        return Int(removed)
    }

    private func accessKey(_ accessID: String) -> String { keyPrefix + "access:" + accessID }

    private func familyKey(_ familyID: String) -> String { keyPrefix + "family:" + familyID + ":access" }

    private func loginsKey(_ userID: String) -> String { keyPrefix + "user:" + userID + ":logins" }

    /// The index of the layout before logins were indexed: read by ``deleteAll(userID:)`` only.
    private func legacyUserKey(_ userID: String) -> String { keyPrefix + "user:" + userID + ":access" }

    /// The record stored as `bytes`; nil for no key.
    private static func decode(_ bytes: [UInt8]?, accessID: String) throws -> TokenRecord? {
        guard let bytes else { return nil }
        do {
            return try decoder.decode(TokenRecord.self, from: Data(bytes))
        } catch {
            throw TokenStoreError.corruptRecord(accessID: accessID)
        }
    }

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

    /// Deletes one login's records and its refresh family; `prefix` and `family` name the keys.
    /// Shared by the scripts below (Lua has no includes, so it is prepended to each).
    private static let revokeLoginFunction = """
        local function revoke_login(prefix, family)
          local removed = 0
          local set = prefix .. 'family:' .. family .. ':access'
          for _, id in ipairs(redis.call('SMEMBERS', set)) do
            removed = removed + redis.call('DEL', prefix .. 'access:' .. id)
          end
          redis.call('DEL', set, prefix .. 'refresh:' .. family)
          return removed
        end

        """

    /// KEYS: record, family set, user's logins. ARGV: JSON, TTL in ms, access id, family id, now in
    /// ms, most logins, key prefix.
    private static let putScript = ValkeyScript(
        revokeLoginFunction + """
            local ttl = tonumber(ARGV[2])
            redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
            redis.call('SADD', KEYS[2], ARGV[3])
            if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ttl) end
            redis.call('ZADD', KEYS[3], 'NX', ARGV[5], ARGV[4])
            if redis.call('PTTL', KEYS[3]) < ttl then redis.call('PEXPIRE', KEYS[3], ttl) end
            local excess = redis.call('ZCARD', KEYS[3]) - tonumber(ARGV[6])
            if excess > 0 then
              for _, family in ipairs(redis.call('ZRANGE', KEYS[3], 0, excess - 1)) do
                revoke_login(ARGV[7], family)
                redis.call('ZREM', KEYS[3], family)
              end
            end
            return 1
            """
    )

    /// KEYS: family set, user's logins. ARGV: family id, key prefix. Returns the records removed.
    private static let revokeFamilyScript = ValkeyScript(
        revokeLoginFunction + """
            local removed = revoke_login(ARGV[2], ARGV[1])
            redis.call('ZREM', KEYS[2], ARGV[1])
            return removed
            """
    )

    /// KEYS: family set. ARGV: access id to keep, grace in ms, key prefix. Records that would live
    /// longer than the grace get the grace; ids whose record is gone leave the set.
    private static let retireScript = ValkeyScript(
        """
        local grace = tonumber(ARGV[2])
        for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
          if id ~= ARGV[1] then
            local key = ARGV[3] .. 'access:' .. id
            local left = redis.call('PTTL', key)
            if left < 0 then
              redis.call('SREM', KEYS[1], id)
            elseif left > grace then
              redis.call('PEXPIRE', key, grace)
            end
          end
        end
        return 1
        """
    )

    /// KEYS: user's logins, the previous layout's user index. ARGV: key prefix. Returns how many
    /// records existed.
    private static let deleteAllScript = ValkeyScript(
        revokeLoginFunction + """
            local removed = 0
            for _, family in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
              removed = removed + revoke_login(ARGV[1], family)
            end
            for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
              removed = removed + redis.call('DEL', ARGV[1] .. 'access:' .. id)
            end
            redis.call('DEL', KEYS[1], KEYS[2])
            return removed
            """
    )
}
