import Foundation

/// Refresh-token rotation with reuse detection.
///
/// Every login starts a *family*; each refresh replaces the family's one live refresh id with a new
/// one. Presenting a refresh id that is no longer the live one means the token was copied and used
/// twice (by the user and by a thief, in either order): the whole family is revoked, so neither can
/// go on without logging in again.
///
/// One exception keeps a lost answer from logging a user out: for `retryWindow` after a rotation,
/// presenting the refresh id it replaced is a retry, answered with the same successor (the same
/// new refresh id and access id), not a reuse. A copy presented within those seconds gets that same
/// pair, which the next rotation by either holder turns into a reuse; the window is short for that.
public protocol RefreshFamilyStore: Sendable {
    /// Starts a family whose live refresh id is `refreshID`, for `ttl`. `payload` is what a refresh
    /// needs to issue the next access token (the user's Tinode token and profile), kept beside it.
    func start(familyID: String, refreshID: String, payload: Data, ttl: Duration) async throws
    /// Replaces `presented` by `next` if `presented` is the family's live id, and the payload by
    /// `payload` when given; answers `.retried` with the successor already chosen if `presented` was
    /// replaced less than `retryWindow` ago (zero: never).
    func rotate(
        familyID: String, presented: String, next: RefreshSuccessor, payload: Data?, ttl: Duration, retryWindow: Duration
    ) async throws -> RefreshRotation
    /// Replaces the family's payload, if the family still exists (a renewed Tinode token).
    func replacePayload(familyID: String, payload: Data) async throws
    /// Ends the family (logout): its refresh tokens no longer work.
    func revoke(familyID: String) async throws
}

/// What replaces a refresh id: the next refresh id and the access id issued with it.
public struct RefreshSuccessor: Sendable, Equatable {
    public var refreshID: String
    public var accessID: String

    public init(refreshID: String, accessID: String) {
        self.refreshID = refreshID
        self.accessID = accessID
    }
}

/// What a rotation found.
public enum RefreshRotation: Sendable, Equatable {
    /// `presented` was live; `next` is now. Carries the family's payload (the new one when given).
    case rotated(payload: Data)
    /// `presented` was replaced moments ago by `successor` (a retry): issue that pair again.
    case retried(payload: Data, successor: RefreshSuccessor)
    /// `presented` was used before: the family is revoked.
    case reused
    /// The family does not exist (expired, logged out, or revoked earlier).
    case unknownFamily
}

/// The embedded default (development only): families vanish on restart.
public actor InMemoryRefreshFamilyStore: RefreshFamilyStore {
    private struct Family {
        var liveID: String
        var liveAccessID: String?
        var payload: Data
        var expires: ContinuousClock.Instant
        /// The id the last rotation replaced, and when.
        var previousID: String?
        var rotatedAt: ContinuousClock.Instant?
    }

    private var families: [String: Family] = [:]

    public init() {}

    public func start(familyID: String, refreshID: String, payload: Data, ttl: Duration) {
        families[familyID] = Family(liveID: refreshID, payload: payload, expires: .now + ttl)
    }

    public func rotate(
        familyID: String, presented: String, next: RefreshSuccessor, payload: Data?, ttl: Duration, retryWindow: Duration
    ) -> RefreshRotation {
        let now = ContinuousClock.now
        guard let family = families[familyID], family.expires > now else {
            families.removeValue(forKey: familyID)
            return .unknownFamily
        }
        guard family.liveID == presented else {
            if family.previousID == presented, let rotatedAt = family.rotatedAt, now - rotatedAt < retryWindow,
                let access = family.liveAccessID
            {
                return .retried(payload: family.payload, successor: RefreshSuccessor(refreshID: family.liveID, accessID: access))
            }
            families.removeValue(forKey: familyID)
            return .reused
        }
        let kept = payload ?? family.payload
        families[familyID] = Family(
            liveID: next.refreshID, liveAccessID: next.accessID, payload: kept, expires: now + ttl, previousID: presented, rotatedAt: now)
        return .rotated(payload: kept)
    }

    public func replacePayload(familyID: String, payload: Data) {
        families[familyID]?.payload = payload
    }

    public func revoke(familyID: String) {
        families.removeValue(forKey: familyID)
    }
}
