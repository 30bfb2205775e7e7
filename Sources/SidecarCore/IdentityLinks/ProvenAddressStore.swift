/// How an address was proven to belong to an account.
///
/// Only a proven address may join two ways of logging in to one Tinode account: an address someone
/// merely typed (a `basic` registration without validation, an `email:` tag a client set itself, an
/// external token whose issuer does not vouch for the address) proves nothing, and linking by it
/// would let whoever registers `victim@corp.com` first receive the real owner's later logins.
public enum AddressProof: String, Sendable, Codable {
    /// Tinode's e-mail validator accepted the code it mailed to the address (the Gateway's register
    /// with `GATEWAY_EMAIL_VERIFICATION=required`).
    case tinodeValidation = "tinode"
    /// A signed token of `EXTERNAL_JWT_ISSUER` said the address is verified (`email_verified`) when it
    /// created the account.
    case externalToken = "external"
}

/// Who owns a proven address, and how that was proven.
public struct ProvenAddress: Sendable, Equatable {
    /// Tinode's 11-character uid, without `usr`.
    public var uid: String
    public var proof: AddressProof

    public init(uid: String, proof: AddressProof) {
        self.uid = uid
        self.proof = proof
    }
}

/// What ``ProvenAddressStore/prove(email:uid:by:)`` did.
public enum ProofOutcome: Sendable, Equatable {
    /// The address now belongs to the uid.
    case created
    /// The address already belonged to this uid (by whatever proof came first); nothing changed.
    case alreadyProven
    /// The address belongs to another uid, given here; nothing changed. The first proof wins.
    case conflict(existingUID: String)
}

/// Addresses proven to belong to a Tinode account, shared by the Gateway (which proves through
/// Tinode's validation) and AuthPlugin's REST-auth (which proves through verified external tokens,
/// and links a verified external token to the account that proved its address).
///
/// An address belongs to at most one uid; a uid may own several addresses. Both directions are kept
/// in step, atomically, also when several processes share the store. Proofs never expire: they end
/// with ``forget(uid:)`` when the account is deleted.
///
/// Every method throws ``IdentityLinkError``: ``IdentityLinkError/invalidUID`` or
/// ``IdentityLinkError/invalidEmail`` before touching the store, ``IdentityLinkError/backend(_:)``
/// when the store cannot answer. Callers treat the latter as an outage, never as "not proven", so an
/// outage cannot make REST-auth create a second account for a proven address.
public protocol ProvenAddressStore: Sendable {
    /// `email` normalised (LoginNameMapper.normalise), `uid` bare 11 chars (no `usr`). First proof wins.
    func prove(email: String, uid: String, by proof: AddressProof) async throws -> ProofOutcome
    /// The owner of `email` (normalised), or nil when nobody proved it.
    func owner(ofEmail email: String) async throws -> ProvenAddress?
    /// Every address `uid` proved, sorted by their UTF-8 bytes.
    func addresses(ofUID uid: String) async throws -> [String]
    /// Drops every proof of `uid` (REST `del`, account deletion).
    func forget(uid: String) async throws
}
