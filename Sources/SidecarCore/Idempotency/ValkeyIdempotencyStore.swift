import Foundation
import Valkey

/// Idempotency keys in Valkey: `<prefix>idem:<scope>:<key>` holds `\0pending:<fingerprint>` while an
/// attempt runs (claimed with `SET NX`, expiring after the claim TTL in case the Gateway dies
/// mid-request) and then `\u{1}<fingerprint>\n<answer>`, for 24 hours.
/// `<prefix>idem-uncertain:<scope>:<key>` holds `<Unix milliseconds>:<fingerprint>` of the earliest
/// attempt whose outcome is unknown, until the key is completed.
///
/// Values written before fingerprints were kept (`\0pending`, a bare answer, bare milliseconds) are
/// still read, as belonging to any request: they expire within a day of the upgrade.
public struct ValkeyIdempotencyStore: IdempotencyStore {
    private let client: ValkeyClient
    private let keyPrefix: String
    private static let pendingPrefix = Array("\u{0}pending".utf8)
    private static let answerMarker: UInt8 = 0x01

    public init(client: ValkeyClient, keyPrefix: String = "sidecar:") {
        self.client = client
        self.keyPrefix = keyPrefix
    }

    /// One round trip: the claim, or what holds the key, and the key's uncertain attempt.
    public func claim(scope: String, key: String, fingerprint: String, claimTTL: Duration) async throws -> IdempotencyClaim {
        let pending = "\u{0}pending:" + fingerprint
        let reply = try await storeOperation {
            try await client.evaluate(
                Self.claimScript, keys: [self.key(scope, key), uncertainKey(scope, key)],
                arguments: [
                    pending, String(max(1, claimTTL.components.seconds * 1000 + claimTTL.components.attoseconds / 1_000_000_000_000_000)),
                ])
        }
        guard let parts = reply.array, parts.count == 2, let claimed = parts[0].integer else {
            throw TokenStoreError.backend(.protocol(reason: "unexpected reply to the claim script"))
        }
        if claimed == 1 {
            return .claimed(uncertain: parts[1].bytes.flatMap(Self.decodeUncertain))
        }
        guard let stored = parts[1].bytes else { throw TokenStoreError.backend(.protocol(reason: "claim script: no value")) }
        let entry = Self.decode(stored)
        if let owner = entry.fingerprint, owner != fingerprint { return .reused }
        return entry.answer.map { .completed($0) } ?? .inProgress
    }

    /// One round trip for the claim, the key's uncertain attempt and the charge's token, when the
    /// charge's limiter keeps its buckets in this Valkey; otherwise one after the other.
    public func claim(
        scope: String, key: String, fingerprint: String, claimTTL: Duration, charging charge: RateCharge
    ) async throws -> IdempotencyClaim {
        guard let limiter = charge.limiter as? ValkeyRateLimiter, limiter.uses(client, keyPrefix: keyPrefix) else {
            return try await claimThenCharge(scope: scope, key: key, fingerprint: fingerprint, claimTTL: claimTTL, charge: charge)
        }
        let pending = "\u{0}pending:" + fingerprint
        let reply = try await storeOperation {
            try await client.evaluate(
                Self.claimAndChargeScript,
                keys: [self.key(scope, key), uncertainKey(scope, key), ValkeyRateLimiter.bucketKey(charge.key, prefix: keyPrefix)],
                arguments: [
                    pending, String(Self.milliseconds(claimTTL)), String(charge.limit.capacity), String(charge.limit.perSecond),
                ])
        }
        guard let parts = reply.array, parts.count == 2, let outcome = parts[0].integer else {
            throw TokenStoreError.backend(.protocol(reason: "unexpected reply to the claim script"))
        }
        switch outcome {
        case 1:
            return .claimed(uncertain: parts[1].bytes.flatMap(Self.decodeUncertain))
        case 2:
            return .limited(retryAfter: .milliseconds(parts[1].integer ?? 1000))
        default:
            guard let stored = parts[1].bytes else { throw TokenStoreError.backend(.protocol(reason: "claim script: no value")) }
            return Self.held(by: stored, fingerprint: fingerprint)
        }
    }

    private static func milliseconds(_ duration: Duration) -> Int64 {
        max(1, duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }

    /// What the key's stored value means for a claim of `fingerprint`.
    private static func held(by stored: [UInt8], fingerprint: String) -> IdempotencyClaim {
        let entry = decode(stored)
        if let owner = entry.fingerprint, owner != fingerprint { return .reused }
        return entry.answer.map { .completed($0) } ?? .inProgress
    }

    /// One round trip: the answer, and the uncertain attempt forgotten, in one transaction.
    public func complete(scope: String, key: String, fingerprint: String, answer: Data, ttl: Duration) async throws {
        let value = "\u{1}" + fingerprint + "\n" + String(decoding: answer, as: UTF8.self)
        let milliseconds = String(max(1, ttl.components.seconds * 1000 + ttl.components.attoseconds / 1_000_000_000_000_000))
        _ = try await storeOperation {
            try await client.transaction([["SET", self.key(scope, key), value, "PX", milliseconds], ["DEL", uncertainKey(scope, key)]])
        }
    }

    public func markUncertain(scope: String, key: String, fingerprint: String, since: Date, ttl: Duration) async throws {
        let milliseconds = String(Int64((since.timeIntervalSince1970 * 1000).rounded(.down)))
        // NX keeps the earliest attempt: the search for its message must reach back that far.
        _ = try await storeOperation {
            try await client.set(
                uncertainKey(scope, key), to: Array("\(milliseconds):\(fingerprint)".utf8), expiration: ttl, onlyIfNotExists: true)
        }
    }

    public func uncertainAttempt(scope: String, key: String) async throws -> UncertainAttempt? {
        guard let stored = try await storeOperation({ try await client.get(uncertainKey(scope, key)) }) else { return nil }
        return Self.decodeUncertain(stored)
    }

    /// `<Unix milliseconds>:<fingerprint>` (or bare milliseconds, from before fingerprints).
    static func decodeUncertain(_ stored: [UInt8]) -> UncertainAttempt? {
        let text = String(decoding: stored, as: UTF8.self)
        let parts = text.split(separator: ":", maxSplits: 1)
        guard let first = parts.first, let milliseconds = Int64(first) else { return nil }
        return UncertainAttempt(
            since: Date(timeIntervalSince1970: Double(milliseconds) / 1000), fingerprint: parts.count == 2 ? String(parts[1]) : nil)
    }

    public func release(scope: String, key: String) async throws {
        _ = try await storeOperation { try await client.del(self.key(scope, key)) }
    }

    /// A stored value: the request's fingerprint (nil in values of earlier versions) and the answer
    /// (nil while the attempt is pending).
    static func decode(_ stored: [UInt8]) -> (fingerprint: String?, answer: Data?) {
        if stored.starts(with: pendingPrefix) {
            let rest = stored.dropFirst(pendingPrefix.count)
            guard rest.first == UInt8(ascii: ":") else { return (nil, nil) }
            return (String(decoding: rest.dropFirst(), as: UTF8.self), nil)
        }
        guard stored.first == answerMarker, let newline = stored.firstIndex(of: UInt8(ascii: "\n")) else {
            return (nil, Data(stored))
        }
        return (String(decoding: stored[1..<newline], as: UTF8.self), Data(stored[(newline + 1)...]))
    }

    /// KEYS: the key, its uncertain attempt. ARGV: the pending value, the claim's TTL in ms.
    /// Returns {1, uncertain attempt or nil} when claimed, {0, stored value} otherwise.
    private static let claimScript = ValkeyScript(
        """
        local stored = redis.call('GET', KEYS[1])
        if stored then return {0, stored} end
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
        return {1, redis.call('GET', KEYS[2])}
        """
    )

    /// KEYS: the key, its uncertain attempt, the rate bucket. ARGV: the pending value, the claim's
    /// TTL in ms, the bucket's capacity and tokens per second. What holds the key is answered first
    /// (a retry answered from the store costs no token); then the token; then the claim. Returns
    /// {1, uncertain attempt or nil} when claimed, {0, stored value} when held, {2, ms until a token}
    /// when the bucket is empty (nothing claimed).
    private static let claimAndChargeScript = ValkeyScript(
        ValkeyRateLimiter.takeTokenFunction + """

            local stored = redis.call('GET', KEYS[1])
            if stored then return {0, stored} end
            local allowed, wait = take_token(KEYS[3], tonumber(ARGV[3]), tonumber(ARGV[4]))
            if allowed == 0 then return {2, wait} end
            redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
            return {1, redis.call('GET', KEYS[2])}
            """
    )

    private func key(_ scope: String, _ key: String) -> String { keyPrefix + "idem:" + scope + ":" + key }

    private func uncertainKey(_ scope: String, _ key: String) -> String { keyPrefix + "idem-uncertain:" + scope + ":" + key }
}
