import Foundation

/// Remembers the answer to a request sent with an `Idempotency-Key`, so that a retry returns the
/// first answer instead of doing the work again.
public protocol IdempotencyStore: Sendable {
    /// Claims `key` for one attempt. `.claimed`: do the work, then `complete` (or `release` on
    /// failure, so that a retry may try again). `.inProgress`: another attempt with the same key runs
    /// now. `.completed`: the stored answer.
    func claim(scope: String, key: String, claimTTL: Duration) async throws -> IdempotencyClaim
    /// Stores the answer for `ttl` (the Gateway keeps them 24 hours).
    func complete(scope: String, key: String, answer: Data, ttl: Duration) async throws
    /// Gives the key up after a failed attempt.
    func release(scope: String, key: String) async throws
    /// Records that an attempt failed without knowing whether its work was done (the request reached
    /// Tinode, no answer came back), so that the next attempt looks for that work first. The
    /// earliest such time is kept, for `ttl`; `complete` forgets it.
    func markUncertain(scope: String, key: String, since: Date, ttl: Duration) async throws
    /// The time of the earliest uncertain attempt, nil when there was none.
    func uncertainSince(scope: String, key: String) async throws -> Date?
}

public enum IdempotencyClaim: Sendable, Equatable {
    case claimed
    case inProgress
    case completed(Data)
}

/// The embedded default (development only).
public actor InMemoryIdempotencyStore: IdempotencyStore {
    private enum Entry {
        case pending(until: ContinuousClock.Instant)
        case done(Data, until: ContinuousClock.Instant)
    }

    private var entries: [String: Entry] = [:]
    private var uncertain: [String: (since: Date, until: ContinuousClock.Instant)] = [:]

    public init() {}

    public func claim(scope: String, key: String, claimTTL: Duration) -> IdempotencyClaim {
        let id = scope + "\u{0}" + key
        let now = ContinuousClock.now
        switch entries[id] {
        case .pending(let until) where until > now: return .inProgress
        case .done(let answer, let until) where until > now: return .completed(answer)
        default:
            entries[id] = .pending(until: now + claimTTL)
            return .claimed
        }
    }

    public func complete(scope: String, key: String, answer: Data, ttl: Duration) {
        entries[scope + "\u{0}" + key] = .done(answer, until: .now + ttl)
        uncertain.removeValue(forKey: scope + "\u{0}" + key)
    }

    public func release(scope: String, key: String) {
        entries.removeValue(forKey: scope + "\u{0}" + key)
    }

    public func markUncertain(scope: String, key: String, since: Date, ttl: Duration) {
        let id = scope + "\u{0}" + key
        if let earlier = uncertain[id], earlier.until > .now, earlier.since <= since { return }
        uncertain[id] = (since, .now + ttl)
    }

    public func uncertainSince(scope: String, key: String) -> Date? {
        guard let entry = uncertain[scope + "\u{0}" + key], entry.until > .now else { return nil }
        return entry.since
    }
}
