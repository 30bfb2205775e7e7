import Foundation

/// Remembers the answer to a request sent with an `Idempotency-Key`, so that a retry returns the
/// first answer instead of doing the work again.
///
/// Every call names the request's fingerprint (``IdempotencyFingerprint``), kept with the key: a
/// key sent again with another request is a client bug (or two clients sharing keys), and answering
/// it with the first request's answer would tell the client a message was sent that never was.
public protocol IdempotencyStore: Sendable {
    /// Claims `key` for one attempt of the request with `fingerprint`. `.claimed`: do the work, then
    /// `complete` (or `release` on failure, so that a retry may try again); it carries the earliest
    /// uncertain attempt of the key, read with the claim (the claim keeps anyone else from adding
    /// one meanwhile). `.inProgress`: another attempt of the same request runs now. `.completed`:
    /// the stored answer. `.reused`: the key belongs to another request (in progress or done);
    /// nothing was claimed.
    func claim(scope: String, key: String, fingerprint: String, claimTTL: Duration) async throws -> IdempotencyClaim
    /// The same, taking `charge`'s token when the claim would be granted (`.limited`, and nothing
    /// claimed, when its bucket is empty). A retry answered from the store costs no token.
    func claim(scope: String, key: String, fingerprint: String, claimTTL: Duration, charging charge: RateCharge) async throws
        -> IdempotencyClaim
    /// Stores the answer for `ttl` (the Gateway keeps them 24 hours), with the request's fingerprint.
    func complete(scope: String, key: String, fingerprint: String, answer: Data, ttl: Duration) async throws
    /// Gives the key up after a failed attempt.
    func release(scope: String, key: String) async throws
    /// Records that an attempt failed without knowing whether its work was done (the request reached
    /// Tinode, no answer came back), so that the next attempt looks for that work first. The
    /// earliest such attempt is kept, for `ttl`; `complete` forgets it.
    func markUncertain(scope: String, key: String, fingerprint: String, since: Date, ttl: Duration) async throws
    /// The earliest uncertain attempt, nil when there was none.
    func uncertainAttempt(scope: String, key: String) async throws -> UncertainAttempt?
}

public enum IdempotencyClaim: Sendable, Equatable {
    case claimed(uncertain: UncertainAttempt?)
    case inProgress
    case completed(Data)
    /// The key was used with a different request.
    case reused
    /// The claim's rate charge (``RateCharge``) found its bucket empty: nothing was claimed.
    case limited(retryAfter: Duration)
}

/// A token to take from a rate bucket together with a claim: only a claim that would be granted
/// costs a token (a retry answered from the store, or refused, does not), and with Valkey both
/// happen in one round trip.
public struct RateCharge: Sendable {
    public var limiter: any RateLimiter
    public var key: String
    public var limit: RateLimit

    public init(limiter: any RateLimiter, key: String, limit: RateLimit) {
        self.limiter = limiter
        self.key = key
        self.limit = limit
    }
}

extension IdempotencyStore {
    public func claim(
        scope: String, key: String, fingerprint: String, claimTTL: Duration, charging charge: RateCharge
    ) async throws -> IdempotencyClaim {
        try await claimThenCharge(scope: scope, key: key, fingerprint: fingerprint, claimTTL: claimTTL, charge: charge)
    }

    /// The claim, and then the charge's token when the claim is granted (given up again when the
    /// bucket is empty): what a store does that cannot do both at once.
    public func claimThenCharge(
        scope: String, key: String, fingerprint: String, claimTTL: Duration, charge: RateCharge
    ) async throws -> IdempotencyClaim {
        let claim = try await claim(scope: scope, key: key, fingerprint: fingerprint, claimTTL: claimTTL)
        guard case .claimed = claim else { return claim }
        let decision: RateDecision
        do {
            decision = try await charge.limiter.take(charge.key, limit: charge.limit)
        } catch {
            try? await release(scope: scope, key: key)
            throw error
        }
        guard case .limited(let retryAfter) = decision else { return claim }
        try? await release(scope: scope, key: key)
        return .limited(retryAfter: retryAfter)
    }
}

/// An attempt whose outcome is unknown: when it started, and which request it was.
public struct UncertainAttempt: Sendable, Equatable {
    public var since: Date
    /// Nil for a record written before fingerprints were kept.
    public var fingerprint: String?

    public init(since: Date, fingerprint: String?) {
        self.since = since
        self.fingerprint = fingerprint
    }

    /// Whether this attempt may have been the request with `fingerprint` (always, without one).
    public func matches(_ fingerprint: String) -> Bool { self.fingerprint.map { $0 == fingerprint } ?? true }
}

/// The embedded default (development only).
public actor InMemoryIdempotencyStore: IdempotencyStore {
    private enum Entry {
        case pending(fingerprint: String, until: ContinuousClock.Instant)
        case done(Data, fingerprint: String, until: ContinuousClock.Instant)
    }

    private var entries: [String: Entry] = [:]
    private var uncertain: [String: (attempt: UncertainAttempt, until: ContinuousClock.Instant)] = [:]

    public init() {}

    public func claim(scope: String, key: String, fingerprint: String, claimTTL: Duration) -> IdempotencyClaim {
        let id = scope + "\u{0}" + key
        let now = ContinuousClock.now
        switch entries[id] {
        case .pending(let owner, let until) where until > now: return owner == fingerprint ? .inProgress : .reused
        case .done(let answer, let owner, let until) where until > now: return owner == fingerprint ? .completed(answer) : .reused
        default:
            entries[id] = .pending(fingerprint: fingerprint, until: now + claimTTL)
            return .claimed(uncertain: uncertainAttempt(scope: scope, key: key))
        }
    }

    public func complete(scope: String, key: String, fingerprint: String, answer: Data, ttl: Duration) {
        entries[scope + "\u{0}" + key] = .done(answer, fingerprint: fingerprint, until: .now + ttl)
        uncertain.removeValue(forKey: scope + "\u{0}" + key)
    }

    public func release(scope: String, key: String) {
        entries.removeValue(forKey: scope + "\u{0}" + key)
    }

    public func markUncertain(scope: String, key: String, fingerprint: String, since: Date, ttl: Duration) {
        let id = scope + "\u{0}" + key
        if let earlier = uncertain[id], earlier.until > .now { return }
        uncertain[id] = (UncertainAttempt(since: since, fingerprint: fingerprint), .now + ttl)
    }

    public func uncertainAttempt(scope: String, key: String) -> UncertainAttempt? {
        guard let entry = uncertain[scope + "\u{0}" + key], entry.until > .now else { return nil }
        return entry.attempt
    }
}
