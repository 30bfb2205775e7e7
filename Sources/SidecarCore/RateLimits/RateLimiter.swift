import Foundation

/// A token bucket: `capacity` requests at once, refilled at `perSecond`.
public struct RateLimit: Sendable, Equatable {
    public var capacity: Int
    public var perSecond: Double

    public init(capacity: Int, perSecond: Double) {
        self.capacity = capacity
        self.perSecond = perSecond
    }

    /// `capacity` per minute, refilled evenly.
    public static func perMinute(_ count: Int) -> RateLimit {
        RateLimit(capacity: count, perSecond: Double(count) / 60)
    }
}

/// What a bucket said.
public enum RateDecision: Sendable, Equatable {
    case allowed
    /// Refused; a token is back after this long.
    case limited(retryAfter: Duration)
}

/// Takes one token from the bucket named `key`. Shared by every instance when backed by Valkey.
public protocol RateLimiter: Sendable {
    func take(_ key: String, limit: RateLimit) async throws -> RateDecision
}

/// The embedded default (one process only).
public actor InMemoryRateLimiter: RateLimiter {
    private var buckets: [String: (tokens: Double, at: ContinuousClock.Instant)] = [:]

    public init() {}

    public func take(_ key: String, limit: RateLimit) -> RateDecision {
        let now = ContinuousClock.now
        let (stored, at) = buckets[key] ?? (Double(limit.capacity), now)
        let elapsed = Double((now - at).components.seconds) + Double((now - at).components.attoseconds) / 1e18
        var tokens = min(Double(limit.capacity), stored + elapsed * limit.perSecond)
        defer { buckets[key] = (tokens, now) }
        if tokens >= 1 {
            tokens -= 1
            return .allowed
        }
        return .limited(retryAfter: .milliseconds(Int(((1 - tokens) / limit.perSecond * 1000).rounded(.up))))
    }
}
