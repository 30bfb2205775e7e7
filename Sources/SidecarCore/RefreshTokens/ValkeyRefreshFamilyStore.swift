import Foundation
import Valkey

/// Refresh families in Valkey: `<prefix>refresh:<familyID>` is a hash of the live refresh id, the
/// access id issued with it, the payload, and the id the last rotation replaced with its time (for
/// retries), expiring with the refresh token. Rotation is one Lua script, so two refreshes racing with the same token
/// cannot both win: the second one is a reuse.
public struct ValkeyRefreshFamilyStore: RefreshFamilyStore {
    private let client: ValkeyClient
    private let keyPrefix: String

    public init(client: ValkeyClient, keyPrefix: String = "sidecar:") {
        self.client = client
        self.keyPrefix = keyPrefix
    }

    public func start(familyID: String, refreshID: String, payload: Data, ttl: Duration) async throws {
        _ = try await storeOperation {
            try await client.evaluate(
                Self.startScript, keys: [key(familyID)],
                arguments: [refreshID, String(decoding: payload, as: UTF8.self), String(milliseconds(ttl))])
        }
    }

    public func rotate(
        familyID: String, presented: String, next: RefreshSuccessor, payload: Data?, ttl: Duration, retryWindow: Duration
    ) async throws -> RefreshRotation {
        let window = retryWindow > .zero ? milliseconds(retryWindow) : 0
        let reply = try await storeOperation {
            try await client.evaluate(
                Self.rotateScript, keys: [key(familyID)],
                arguments: [
                    presented, next.refreshID, String(milliseconds(ttl)), payload.map { String(decoding: $0, as: UTF8.self) } ?? "",
                    next.accessID, String(window),
                ])
        }
        if let values = reply.array, values.count == 2, values[0].integer == 1, let stored = values[1].bytes {
            return .rotated(payload: Data(stored))
        }
        if let values = reply.array, values.count == 4, values[0].integer == 3, let stored = values[1].bytes,
            let refreshID = values[2].string, let accessID = values[3].string, !accessID.isEmpty
        {
            return .retried(payload: Data(stored), successor: RefreshSuccessor(refreshID: refreshID, accessID: accessID))
        }
        switch reply.integer {
        case 2: return .reused
        case 0: return .unknownFamily
        default: throw TokenStoreError.backend(.protocol(reason: "unexpected reply to the rotate script"))
        }
    }

    private func milliseconds(_ ttl: Duration) -> Int64 {
        max(1, ttl.components.seconds * 1000 + ttl.components.attoseconds / 1_000_000_000_000_000)
    }

    public func replacePayload(familyID: String, payload: Data) async throws {
        _ = try await storeOperation {
            try await client.evaluate(
                Self.replacePayloadScript, keys: [key(familyID)], arguments: [String(decoding: payload, as: UTF8.self)])
        }
    }

    public func revoke(familyID: String) async throws {
        _ = try await storeOperation { try await client.del(key(familyID)) }
    }

    private func key(_ familyID: String) -> String { keyPrefix + "refresh:" + familyID }

    /// KEYS: family. ARGV: payload. Only a family that still exists (not one revoked meanwhile).
    private static let replacePayloadScript = ValkeyScript(
        """
        if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
        redis.call('HSET', KEYS[1], 'payload', ARGV[1])
        return 1
        """
    )

    /// KEYS: family. ARGV: live id, payload, TTL in ms.
    private static let startScript = ValkeyScript(
        """
        redis.call('DEL', KEYS[1])
        redis.call('HSET', KEYS[1], 'live', ARGV[1], 'payload', ARGV[2])
        redis.call('PEXPIRE', KEYS[1], ARGV[3])
        return 1
        """
    )

    /// KEYS: family. ARGV: presented id, next id, TTL in ms, new payload ("" keeps it), next access
    /// id, retry window in ms (0: none). Returns {1, payload} rotated, {3, payload, live id, live
    /// access id} a retry of the last rotation, 2 reused (family deleted), 0 unknown. The server's
    /// clock times the window, so that instances with different clocks agree.
    private static let rotateScript = ValkeyScript(
        """
        local live = redis.call('HGET', KEYS[1], 'live')
        if not live then return 0 end
        local time = redis.call('TIME')
        local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
        if live ~= ARGV[1] then
          local previous = redis.call('HGET', KEYS[1], 'previous')
          local at = tonumber(redis.call('HGET', KEYS[1], 'rotated_at') or '0')
          local access = redis.call('HGET', KEYS[1], 'live_access')
          if previous == ARGV[1] and access and now - at < tonumber(ARGV[6]) then
            return {3, redis.call('HGET', KEYS[1], 'payload'), live, access}
          end
          redis.call('DEL', KEYS[1])
          return 2
        end
        redis.call('HSET', KEYS[1], 'live', ARGV[2], 'live_access', ARGV[5], 'previous', ARGV[1], 'rotated_at', now)
        if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'payload', ARGV[4]) end
        redis.call('PEXPIRE', KEYS[1], ARGV[3])
        return {1, redis.call('HGET', KEYS[1], 'payload')}
        """
    )
}
