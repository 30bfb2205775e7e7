import Crypto
import Valkey

/// The durable link between an external identity (a subject of `EXTERNAL_JWT_ISSUER`) and the Tinode
/// user created for it or linked to it.
///
/// A self-hoster's backend mints JWTs whose `(iss, sub)` names the user for good; the `email` claim
/// is only an attribute, which the backend may change and which proves nothing unless the token says
/// it is verified. The first time a subject logs in, AuthPlugin either links it to the account that
/// proved the token's verified address (``ProvenAddressStore``) or answers Tinode's REST `auth` with
/// `newacc`; Tinode then creates the user and calls `link` with the new uid, and the link is stored
/// here. Later logins look the uid up by subject, whatever address the token carries then. REST `add`
/// links, `upd` moves a uid to another subject, `del` unlinks, and `checkunique` asks whether a
/// subject is linked yet.
///
/// A subject belongs to at most one uid; a uid may have several subjects (two accounts at the issuer
/// whose verified address is the same proven one). Every operation keeps both directions in step,
/// atomically, also when several processes share the store.
///
/// Links written before subjects were the key (`e-mail -> uid`, "legacy") are still read, through
/// ``adoptLegacyLink(email:for:)`` only: REST-auth calls it for a token whose address is verified, and
/// the legacy link is then rewritten as a subject link (README, "Migration of e-mail links").
///
/// Inputs:
/// * e-mails are passed in already normalised (``LoginNameMapper/normalise(_:)``) and are compared byte
///   for byte, so two spellings Unicode considers equivalent are different e-mails here;
/// * uids are Tinode's 11-character base64url user ids **without** the `usr` prefix.
///
/// Every method throws ``IdentityLinkError``: ``IdentityLinkError/invalidUID``,
/// ``IdentityLinkError/invalidSubject`` or ``IdentityLinkError/invalidEmail`` before touching the store,
/// ``IdentityLinkError/backend(_:)`` when the store cannot answer. Callers answer Tinode `internal` for
/// the latter, never "not linked", so an outage cannot make Tinode create a second account.
public protocol IdentityLinkStore: Sendable {
    /// Links `subject` to `uid` when the subject is not linked yet (REST `link` and `add`, and a
    /// verified token whose address `uid` proved). `email` is the token's address, kept as an attribute.
    ///
    /// Linking the same pair again is ``LinkOutcome/alreadyLinked`` (the stored address is left as it
    /// was). When `subject` belongs to another uid the answer is ``LinkOutcome/conflict(existingUID:)``
    /// and nothing changes. The uid's other subjects, if any, stay.
    func link(_ subject: ExternalSubject, uid: String, email: String?) async throws -> LinkOutcome

    /// Moves `uid` to `subject` (REST `upd`): the link is stored and every other subject of the uid is
    /// unlinked.
    ///
    /// Answers ``LinkOutcome/created`` when the link was written, ``LinkOutcome/alreadyLinked`` when
    /// `subject` was already the uid's only subject, and ``LinkOutcome/conflict(existingUID:)`` without
    /// changing anything when `subject` belongs to another uid.
    func relink(uid: String, to subject: ExternalSubject, email: String?) async throws -> LinkOutcome

    /// The uid linked to `subject`, or `nil` when the subject is not linked.
    func uid(for subject: ExternalSubject) async throws -> String?

    /// Every subject linked to `uid`, with the address stored for each, by ``ExternalSubject/digest``.
    func links(ofUID uid: String) async throws -> [SubjectLink]

    /// Removes every link of `uid`, subject links and a legacy e-mail link alike (REST `del`); returns
    /// whether there was one.
    func unlink(uid: String) async throws -> Bool

    /// Migration: when `email` has a legacy link and `subject` is not linked yet, links `subject` to
    /// the legacy uid (with `email` as its address) and deletes the legacy link in both directions, in
    /// one step. Returns the uid `subject` is linked to afterwards, or nil when there was nothing to
    /// adopt (no legacy link, or the legacy uid already has a subject).
    ///
    /// Only for a token whose address is verified: a legacy link says who first claimed the address,
    /// not who proved it.
    func adoptLegacyLink(email: String, for subject: ExternalSubject) async throws -> String?
}

/// One external identity: an issuer and a subject of that issuer, compared byte for byte.
public struct ExternalSubject: Sendable, Hashable, CustomStringConvertible {
    /// Longest `sub` accepted, in UTF-8 bytes (the external token verifier refuses longer ones).
    public static let maximumSubjectBytes = 255
    /// Longest `iss` accepted, in UTF-8 bytes.
    public static let maximumIssuerBytes = 1024

    public let issuer: String
    public let subject: String

    public init(issuer: String, subject: String) {
        self.issuer = issuer
        self.subject = subject
    }

    /// The key of this identity in the stores: lower-case hex SHA-256 of
    /// `<bytes of iss>:<iss><bytes of sub>:<sub>`. The byte counts make the encoding of the pair
    /// unambiguous (`("a:b", "c")` and `("a", "b:c")` differ), and the hash keeps keys short whatever
    /// the issuer and subject hold.
    public var digest: String {
        var bytes = Array("\(issuer.utf8.count):".utf8) + Array(issuer.utf8)
        bytes += Array("\(subject.utf8.count):".utf8) + Array(subject.utf8)
        return SHA256.hash(data: bytes).map { byte in
            let text = String(byte, radix: 16)
            return byte < 16 ? "0" + text : text
        }.joined()
    }

    public static func == (lhs: ExternalSubject, rhs: ExternalSubject) -> Bool {
        lhs.issuer.utf8.elementsEqual(rhs.issuer.utf8) && lhs.subject.utf8.elementsEqual(rhs.subject.utf8)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(Array(issuer.utf8))
        hasher.combine(Array(subject.utf8))
    }

    /// The issuer and a short digest: subjects may be personal data, so logs never hold one verbatim.
    public var description: String { "\(issuer)#\(digest.prefix(12))" }
}

/// A subject's link, as ``IdentityLinkStore/links(ofUID:)`` reports it.
public struct SubjectLink: Sendable, Equatable {
    public var subject: ExternalSubject
    public var uid: String
    /// The address the token carried when the link was written; informational, never a key.
    public var email: String?

    public init(subject: ExternalSubject, uid: String, email: String?) {
        self.subject = subject
        self.uid = uid
        self.email = email
    }
}

/// What ``IdentityLinkStore/link(_:uid:email:)`` and ``IdentityLinkStore/relink(uid:to:email:)`` did.
public enum LinkOutcome: Sendable, Equatable {
    /// The link was written.
    case created
    /// Exactly this link existed already; nothing changed.
    case alreadyLinked
    /// The subject belongs to another uid, given here; nothing changed.
    case conflict(existingUID: String)
}

/// Why an ``IdentityLinkStore`` or a ``ProvenAddressStore`` refused or failed an operation.
public enum IdentityLinkError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The uid is not 11 characters of `A-Z a-z 0-9 - _` (a `usr` prefix is not accepted).
    case invalidUID
    /// The e-mail is empty.
    case invalidEmail
    /// The issuer or the subject is empty or too long.
    case invalidSubject
    /// Valkey could not be reached, refused the command or answered in an unexpected shape.
    case backend(ValkeyError)

    public var description: String {
        switch self {
        case .invalidUID: "a Tinode uid must be 11 characters of A-Z a-z 0-9 - _, without the usr prefix"
        case .invalidEmail: "the e-mail is empty"
        case .invalidSubject:
            "an external identity needs an issuer of 1 to \(ExternalSubject.maximumIssuerBytes) bytes and a subject of 1 to \(ExternalSubject.maximumSubjectBytes) bytes"
        case .backend(let error): "identity link store unavailable: \(error)"
        }
    }
}

/// The input checks every store applies before it touches its storage.
enum IdentityLinkInput {
    /// Length of a Tinode uid: 8 bytes in unpadded base64url.
    static let uidLength = 11

    static func check(uid: String) throws(IdentityLinkError) {
        guard uid.utf8.count == uidLength, uid.utf8.allSatisfy(isBase64URL) else { throw .invalidUID }
    }

    static func check(email: String) throws(IdentityLinkError) {
        guard !email.isEmpty else { throw .invalidEmail }
    }

    /// An optional address must not be empty when given.
    static func check(email: String?) throws(IdentityLinkError) {
        if let email { try check(email: email) }
    }

    static func check(subject: ExternalSubject) throws(IdentityLinkError) {
        guard (1...ExternalSubject.maximumIssuerBytes).contains(subject.issuer.utf8.count),
            (1...ExternalSubject.maximumSubjectBytes).contains(subject.subject.utf8.count)
        else { throw .invalidSubject }
    }

    private static func isBase64URL(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
            true
        default:
            false
        }
    }
}
