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
                Self.takeScript, keys: [Self.bucketKey(key, prefix: keyPrefix)],
                arguments: [String(limit.capacity), String(limit.perSecond)])
        }
        guard let values = reply.array, values.count == 2, let allowed = values[0].integer, let wait = values[1].integer else {
            throw TokenStoreError.backend(.protocol(reason: "unexpected reply to the rate-limit script"))
        }
        return allowed == 1 ? .allowed : .limited(retryAfter: .milliseconds(wait))
    }

    /// Whether this limiter's buckets are in `client`'s Valkey under `keyPrefix` (then a script of
    /// another store can take their tokens in its own round trip).
    public func uses(_ client: ValkeyClient, keyPrefix: String) -> Bool {
        self.client === client && self.keyPrefix == keyPrefix
    }

    /// The bucket `key` is kept under (scripts of other stores take tokens from it too).
    public static func bucketKey(_ key: String, prefix: String = "sidecar:") -> String { prefix + "rate:" + key }

    /// The token bucket in Lua, for every script that takes a token: `take_token(bucket, capacity,
    /// rate)` returns `allowed` (1 or 0) and, when refused, the ms until a token is back. The
    /// server's clock, so that every instance agrees.
    public static let takeTokenFunction = """
        local function take_token(bucket, capacity, rate)
          local clock = redis.call('TIME')
          local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
          local state = redis.call('HMGET', bucket, 'tokens', 'at')
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
          redis.call('HSET', bucket, 'tokens', tostring(tokens), 'at', tostring(now))
          redis.call('PEXPIRE', bucket, math.ceil(capacity / rate * 1000) + 1000)
          return allowed, wait
        end
        """

    /// KEYS: bucket. ARGV: capacity, tokens per second. Returns {1, 0} or {0, ms until a token}.
    private static let takeScript = ValkeyScript(
        takeTokenFunction + """

            local allowed, wait = take_token(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]))
            return {allowed, wait}
            """
    )
}
