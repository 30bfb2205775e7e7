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
    }

    public func release(scope: String, key: String) {
        entries.removeValue(forKey: scope + "\u{0}" + key)
    }
}
