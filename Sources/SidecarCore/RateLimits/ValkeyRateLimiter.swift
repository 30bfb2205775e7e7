import Foundation
import Valkey

/// Token buckets in Valkey (`<prefix>rate:<key>`, a hash of tokens and time), updated by one Lua
/// script with the server's clock, so that every Gateway behind a load balancer shares each bucket.
public struct ValkeyRateLimiter: RateLimiter {
    private let client: ValkeyClient
    private let keyPrefix: String

    public init(client: ValkeyClient, keyPrefix: String = "sidecar:") {
        self.client = client
        self.keyPrefix = keyPrefix
    }

    public func take(_ key: String, limit: RateLimit) async throws -> RateDecision {
        let reply = try await storeOperation {
            try await client.evaluate(
                Self.takeScript, keys: [keyPrefix + "rate:" + key], arguments: [String(limit.capacity), String(limit.perSecond)])
        }
        guard let values = reply.array, values.count == 2, let allowed = values[0].integer, let wait = values[1].integer else {
            throw TokenStoreError.backend(.protocol(reason: "unexpected reply to the rate-limit script"))
        }
        return allowed == 1 ? .allowed : .limited(retryAfter: .milliseconds(wait))
    }

    /// KEYS: bucket. ARGV: capacity, tokens per second. Returns {1, 0} or {0, ms until a token}.
    private static let takeScript = ValkeyScript(
        """
        local capacity = tonumber(ARGV[1])
        local rate = tonumber(ARGV[2])
        local clock = redis.call('TIME')
        local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
        local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
        local tokens = tonumber(state[1]) or capacity
        local at = tonumber(state[2]) or now
        tokens = math.min(capacity, tokens + math.max(0, now - at) / 1000 * rate)
        local allowed, wait = 0, 0
        if tokens >= 1 then
          tokens = tokens - 1
          allowed = 1
        else
          wait = math.ceil((1 - tokens) / rate * 1000)
        end
        redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
        redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 1000)
        return {allowed, wait}
        """
    )
}
