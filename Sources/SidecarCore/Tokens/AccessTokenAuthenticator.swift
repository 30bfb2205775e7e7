import Valkey

/// Who a Gateway access token stands for, once checked: its claims and the live record of its
/// `access_id`, of the same user.
///
/// A class, so that every request with a remembered token shares one answer instead of copying a
/// dozen strings out of the cache.
public final class AuthenticatedAccessToken: Sendable {
    public let claims: AccessTokenClaims
    public let record: TokenRecord

    init(claims: AccessTokenClaims, record: TokenRecord) {
        self.claims = claims
        self.record = record
    }
}

/// Why an access token was not accepted.
public enum AccessTokenFailure: Error {
    /// The JWT itself: signature, claims, expiry.
    case rejected(TokenRejection)
    /// The token store has no record of its `access_id`: logged out, revoked, or expired there.
    case revoked
    /// The record belongs to another user than the token.
    case otherUser
    /// The token store could not answer; never a reason to call the token invalid.
    case storeUnavailable(any Error)
}

/// Checks a Gateway access token: its signature and claims (``TokenService``), then the record of its
/// `access_id` in the token store, which logout and revocation delete. REST-auth's `auth` and the
/// Gateway's Bearer check both use it.
///
/// Both answers are remembered per token in one ``AccessTokenCache``: a request with a token seen
/// before costs one hash of the token, one look-up, the `exp`/`nbf` check and, while the store's
/// ``TrackingLease`` runs, nothing more (no signature check, no store read, no decoding). When the
/// lease is over (Valkey reported a change of the record, this process deleted it, tracking stopped,
/// or the lease's maximum age passed) the record is read again before the answer, so a deleted record
/// stops the token as soon as the lease ends.
public struct AccessTokenAuthenticator: Sendable {
    let tokens: TokenService
    let store: any TokenStore
    let cache: AccessTokenCache

    /// - Parameter capacity: how many tokens to remember (0: none).
    public init(tokens: TokenService, store: any TokenStore, capacity: Int = 10_000) {
        self.tokens = tokens
        self.store = store
        cache = AccessTokenCache(capacity: capacity)
    }

    /// The caller of `token`: ``authenticateRemembered(_:)``, else ``authenticateNew(_:)``.
    public func authenticate(_ token: String) async throws(AccessTokenFailure) -> AuthenticatedAccessToken {
        let key = AccessTokenKey(token)
        if let caller = try await authenticateRemembered(key) { return caller }
        return try await authenticateNew(key)
    }

    /// The caller of a token verified before, or nil when it is not remembered (REST-auth then reads
    /// the token's issuer to know whether it is ours to verify).
    public func authenticateRemembered(_ key: AccessTokenKey) async throws(AccessTokenFailure) -> AuthenticatedAccessToken? {
        guard let entry = cache.entry(for: key) else { return nil }
        try checkTimes(entry, key)
        if entry.outcomeIsCurrent { return try entry.outcome.get() }
        return try await read(entry.claims, for: key)
    }

    /// The answer for a remembered token whose record is still the store's, without any I/O; nil when
    /// the token is not remembered or its record must be read again (then ``authenticateRemembered(_:)``
    /// or ``authenticateNew(_:)``). REST-auth answers such requests without a deadline, since they
    /// cannot wait for anything.
    public func authenticateFromMemory(_ key: AccessTokenKey) throws(AccessTokenFailure) -> AuthenticatedAccessToken? {
        guard let entry = cache.entry(for: key) else { return nil }
        try checkTimes(entry, key)
        guard entry.outcomeIsCurrent else { return nil }
        return try entry.outcome.get()
    }

    /// `exp` and `nbf` of a remembered token, checked on every use.
    private func checkTimes(_ entry: AccessTokenCache.Entry, _ key: AccessTokenKey) throws(AccessTokenFailure) {
        do {
            try tokens.checkTimes(entry.claims)
        } catch {
            // Expired for good (a token verified before cannot be early): no reason to keep it.
            if error == .expired { cache.forget(key) }
            throw .rejected(error)
        }
    }

    /// Verifies a token that is not remembered, reads its record, and remembers both. A token that
    /// does not verify is not remembered.
    public func authenticateNew(_ key: AccessTokenKey) async throws(AccessTokenFailure) -> AuthenticatedAccessToken {
        let claims: AccessTokenClaims
        do {
            claims = try await tokens.verifyAccessToken(key.token)
        } catch {
            throw .rejected(error)
        }
        return try await read(claims, for: key)
    }

    /// Asks the store about the token's `access_id` and remembers the answer with its lease.
    private func read(_ claims: AccessTokenClaims, for key: AccessTokenKey) async throws(AccessTokenFailure) -> AuthenticatedAccessToken {
        let answer: (record: TokenRecord?, lease: TrackingLease?)
        do {
            answer = try await store.trackedGet(accessID: claims.accessID)
        } catch {
            throw .storeUnavailable(error)
        }
        let outcome: Result<AuthenticatedAccessToken, AccessTokenFailure> =
            if let record = answer.record {
                record.userID == claims.userID ? .success(AuthenticatedAccessToken(claims: claims, record: record)) : .failure(.otherUser)
            } else {
                .failure(.revoked)
            }
        cache.remember(AccessTokenCache.Entry(claims: claims, outcome: outcome, lease: answer.lease), for: key)
        return try outcome.get()
    }

    /// How many tokens are remembered (tests).
    var rememberedCount: Int { cache.count }
}
