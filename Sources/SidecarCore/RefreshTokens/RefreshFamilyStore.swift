import Foundation

/// Refresh-token rotation with reuse detection.
///
/// Every login starts a *family*; each refresh replaces the family's one live refresh id with a new
/// one. Presenting a refresh id that is no longer the live one means the token was copied and used
/// twice (by the user and by a thief, in either order): the whole family is revoked, so neither can
/// go on without logging in again.
public protocol RefreshFamilyStore: Sendable {
    /// Starts a family whose live refresh id is `refreshID`, for `ttl`. `payload` is what a refresh
    /// needs to issue the next access token (the user's Tinode token and profile), kept beside it.
    func start(familyID: String, refreshID: String, payload: Data, ttl: Duration) async throws
    /// Replaces `presented` by `next` if `presented` is the family's live id, and the payload by
    /// `payload` when given.
    func rotate(familyID: String, presented: String, next: String, payload: Data?, ttl: Duration) async throws -> RefreshRotation
    /// Ends the family (logout): its refresh tokens no longer work.
    func revoke(familyID: String) async throws
}

/// What a rotation found.
public enum RefreshRotation: Sendable, Equatable {
    /// `presented` was live; `next` is now. Carries the family's payload (the new one when given).
    case rotated(payload: Data)
    /// `presented` was used before: the family is revoked.
    case reused
    /// The family does not exist (expired, logged out, or revoked earlier).
    case unknownFamily
}

/// The embedded default (development only): families vanish on restart.
public actor InMemoryRefreshFamilyStore: RefreshFamilyStore {
    private struct Family {
        var liveID: String
        var payload: Data
        var expires: ContinuousClock.Instant
    }

    private var families: [String: Family] = [:]

    public init() {}

    public func start(familyID: String, refreshID: String, payload: Data, ttl: Duration) {
        families[familyID] = Family(liveID: refreshID, payload: payload, expires: .now + ttl)
    }

    public func rotate(familyID: String, presented: String, next: String, payload: Data?, ttl: Duration) -> RefreshRotation {
        guard let family = families[familyID], family.expires > .now else {
            families.removeValue(forKey: familyID)
            return .unknownFamily
        }
        guard family.liveID == presented else {
            families.removeValue(forKey: familyID)
            return .reused
        }
        let kept = payload ?? family.payload
        families[familyID] = Family(liveID: next, payload: kept, expires: .now + ttl)
        return .rotated(payload: kept)
    }

    public func revoke(familyID: String) {
        families.removeValue(forKey: familyID)
    }
}
