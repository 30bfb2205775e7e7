import Synchronization
import Valkey

/// Access tokens already checked, each with what the token store said about its `access_id`: the one
/// cache behind ``AccessTokenAuthenticator``, keyed by the token.
///
/// A client sends the same token on every request until it expires. An entry spares the signature
/// check and the decoding of the claims (a token's bytes cannot change without changing the key, so
/// its claims stay right), and, while the store's lease runs, the store read and the record's
/// decoding too. What an entry does not spare: the time checks (`exp`, `nbf`) and the lease check,
/// which the authenticator runs on every use. Bounded: when full, an arbitrary tenth is forgotten,
/// which only costs verifying and reading those tokens again.
final class AccessTokenCache: Sendable {
    /// One remembered token; never changed, a new read replaces it.
    final class Entry: Sendable {
        let claims: AccessTokenClaims
        /// What the store said about `claims.accessID` when `lease` began: the caller, or why not
        /// (no record: logged out or revoked).
        let outcome: Result<AuthenticatedAccessToken, AccessTokenFailure>
        /// Nil when the store gave none (the in-process store; Valkey with tracking off or not
        /// ready): the store is asked again on every use.
        let lease: TrackingLease?

        init(claims: AccessTokenClaims, outcome: Result<AuthenticatedAccessToken, AccessTokenFailure>, lease: TrackingLease?) {
            self.claims = claims
            self.outcome = outcome
            self.lease = lease
        }

        /// Whether `outcome` is still the store's answer.
        var outcomeIsCurrent: Bool { lease?.isCurrent ?? false }
    }

    let capacity: Int
    private let entries = Mutex<[AccessTokenKey: Entry]>([:])

    init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    func entry(for key: AccessTokenKey) -> Entry? {
        entries.withLock { $0[key] }
    }

    func remember(_ entry: Entry, for key: AccessTokenKey) {
        guard capacity > 0 else { return }
        entries.withLock { entries in
            if entries.count >= capacity, entries[key] == nil {
                for stale in Array(entries.keys.prefix(max(1, capacity / 10))) { entries[stale] = nil }
            }
            entries[key] = entry
        }
    }

    func forget(_ key: AccessTokenKey) {
        _ = entries.withLock { $0.removeValue(forKey: key) }
    }

    var count: Int { entries.withLock { $0.count } }
}
