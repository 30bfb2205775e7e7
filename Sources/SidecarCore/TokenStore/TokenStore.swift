import Foundation
import Valkey

/// Maps an access JWT's `access_id` to the user's Tinode token, for as long as the access token lives.
///
/// The Gateway writes a record when it issues an access JWT and reads it on every request; logout and
/// revocation delete it, and account deletion deletes all of a user's records. A JWT whose `access_id`
/// has no record is rejected, so deleting a record revokes the token at once.
///
/// Implementations throw ``TokenStoreError`` when the backing store cannot answer; callers map that to
/// an internal error (HTTP 503), never to "token invalid", so an outage does not look like a logout.
///
/// Records are indexed by login: every record belongs to a refresh family (its `refreshFamilyID`, or
/// a family of its own when it has none), and a user's families are indexed in the order they
/// started. A user keeps at most `maximumLogins` families: the put that starts one more revokes the
/// oldest (its records, and in Valkey its refresh family too). No operation scans more than one
/// login's records, except ``deleteAll(userID:)``, which is bounded by that maximum.
public protocol TokenStore: Sendable {
    /// Stores `record` under its `accessID` for `ttl`, replacing any record with the same id, and
    /// indexes it under its family and user.
    func put(_ record: TokenRecord, ttl: Duration) async throws
    /// The live record for `accessID`, or `nil` when there is none or it has expired.
    func get(accessID: String) async throws -> TokenRecord?
    /// ``get(accessID:)`` for a caller that keeps the answer (``AccessTokenAuthenticator``), with the
    /// lease that says how long it stays the store's answer; without a lease, ask again on next use.
    func trackedGet(accessID: String) async throws -> (record: TokenRecord?, lease: TrackingLease?)
    /// Removes the record for `accessID`; removing a missing record is not an error.
    func delete(accessID: String) async throws
    /// Removes every record of one login (the family's access ids, and in Valkey its refresh family);
    /// returns how many live records there were.
    func revokeFamily(_ familyID: String, userID: String) async throws -> Int
    /// Lets every record of `familyID` but `keep` live at most `grace` longer (a refresh retires the
    /// access tokens it replaces, after a moment for requests already under way).
    func retireFamily(_ familyID: String, except keep: String, within grace: Duration) async throws
    /// Removes every live record of `userID`, every one of the user's logins (in Valkey, their refresh
    /// families too), and returns how many records there were.
    func deleteAll(userID: String) async throws -> Int
}

extension TokenStore {
    /// No lease: a store in this process (``InMemoryTokenStore``) answers without I/O, so its answer is
    /// not kept.
    public func trackedGet(accessID: String) async throws -> (record: TokenRecord?, lease: TrackingLease?) {
        (try await get(accessID: accessID), nil)
    }
}

/// What the Gateway keeps about one issued access token.
public struct TokenRecord: Codable, Sendable, Equatable {
    /// The JWT's `access_id` (random, 128 bits).
    public var accessID: String
    /// The Tinode user id, `usr...`.
    public var userID: String
    /// The Tinode token in its standard base64 form, as Tinode returned it from `login`.
    public var tinodeToken: String
    /// When Tinode stops accepting `tinodeToken`.
    public var tinodeTokenExpires: Date
    public var createdAt: Date
    public var login: String?
    public var email: String?
    /// The refresh-token family issued with this access token; logout revokes it too.
    public var refreshFamilyID: String?

    public init(
        accessID: String,
        userID: String,
        tinodeToken: String,
        tinodeTokenExpires: Date,
        createdAt: Date,
        login: String? = nil,
        email: String? = nil,
        refreshFamilyID: String? = nil
    ) {
        self.accessID = accessID
        self.userID = userID
        self.tinodeToken = tinodeToken
        self.tinodeTokenExpires = tinodeTokenExpires
        self.createdAt = createdAt
        self.login = login
        self.email = email
        self.refreshFamilyID = refreshFamilyID
    }

    enum CodingKeys: String, CodingKey {
        case accessID = "access_id"
        case userID = "user_id"
        case tinodeToken = "tinode_token"
        case tinodeTokenExpires = "tinode_token_expires"
        case createdAt = "created_at"
        case login
        case email
        case refreshFamilyID = "refresh_family_id"
    }
}

/// Why a ``TokenStore`` could not do what was asked. Every case means "internal error" to a client.
public enum TokenStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Valkey could not be reached or refused the command; the underlying error says which.
    case backend(ValkeyError)
    /// A stored record could not be decoded (written by an incompatible version, or altered by hand).
    case corruptRecord(accessID: String)
    /// A time to live of zero or less would store a record that is already expired.
    case invalidTTL

    public var description: String {
        switch self {
        case .backend(let error): "token store unavailable: \(error)"
        case .corruptRecord: "token store holds an unreadable record"
        case .invalidTTL: "token time to live must be positive"
        }
    }
}
