import Synchronization

/// Access tokens whose signature and claims were already verified, keyed by the whole token.
///
/// A client sends the same token on every request until it expires, and the signature check plus
/// JSON decoding is most of the cost of a request. A token's bytes cannot change without changing
/// the key, so a hit is as good as a fresh verification; the time checks (`exp`, `nbf`) still run
/// on every use, and the `access_id` lookup in the token store (revocation) is the caller's, as
/// always. Bounded: when full it is emptied, which only costs re-verification.
final class VerifiedTokenCache: Sendable {
    private let capacity: Int
    private let entries = Mutex<[String: AccessTokenClaims]>([:])

    init(capacity: Int = 10_000) {
        self.capacity = capacity
    }

    func claims(for token: String) -> AccessTokenClaims? {
        entries.withLock { $0[token] }
    }

    func remember(_ claims: AccessTokenClaims, for token: String) {
        guard capacity > 0 else { return }
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[token] = claims
        }
    }

    var count: Int { entries.withLock { $0.count } }
}
