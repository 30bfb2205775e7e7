import Valkey

/// The durable link between an e-mail address and the Tinode user created for it.
///
/// A self-hoster's backend may mint JWTs that name a user by e-mail only. The first time such an e-mail
/// logs in, AuthPlugin answers Tinode's REST `auth` with `newacc`, Tinode creates the user and calls
/// `link` with the new uid, and the link is stored here; later logins look the uid up by e-mail.
/// REST `add` and `upd` (re)link, `del` unlinks, and `checkunique` asks whether an e-mail is linked yet.
///
/// A link is one-to-one: an e-mail belongs to at most one uid and a uid to at most one e-mail. Every
/// operation keeps both directions in step, atomically, also when several processes share the store.
///
/// Inputs:
/// * e-mails are passed in already normalised (``LoginNameMapper/normalise(_:)``) and are compared byte
///   for byte, so two spellings Unicode considers equivalent are different e-mails here;
/// * uids are Tinode's 11-character base64url user ids **without** the `usr` prefix.
///
/// Every method throws ``IdentityLinkError``: ``IdentityLinkError/invalidUID`` or
/// ``IdentityLinkError/invalidEmail`` before touching the store, ``IdentityLinkError/backend(_:)`` when
/// the store cannot answer. Callers answer Tinode `internal` for the latter, never "not linked", so an
/// outage cannot make Tinode create a second account for a known e-mail.
public protocol IdentityLinkStore: Sendable {
    /// Links `email` to `uid` when neither is linked yet (REST `link` and `add`).
    ///
    /// Linking the same pair again is ``LinkOutcome/alreadyLinked``. When `email` already belongs to another
    /// uid the answer is ``LinkOutcome/conflict(existingUID:)``; otherwise, when `uid` already has another
    /// e-mail, it is ``LinkOutcome/uidHasOtherEmail(_:)``. Neither changes anything.
    func link(email: String, uid: String) async throws -> LinkOutcome

    /// Moves `uid` to `email` (REST `upd`): the new link is stored and the uid's previous e-mail, if any,
    /// is freed for other users.
    ///
    /// Answers ``LinkOutcome/created`` when the link was written (whether or not it replaced an old one),
    /// ``LinkOutcome/alreadyLinked`` when `uid` already had exactly this e-mail, and
    /// ``LinkOutcome/conflict(existingUID:)`` without changing anything when `email` belongs to another uid.
    /// Never ``LinkOutcome/uidHasOtherEmail(_:)``: replacing that e-mail is the point.
    func relink(uid: String, email: String) async throws -> LinkOutcome

    /// The uid linked to `email`, or `nil` when the e-mail is not linked.
    func uid(forEmail email: String) async throws -> String?

    /// The e-mail linked to `uid`, or `nil` when the uid is not linked.
    func email(forUID uid: String) async throws -> String?

    /// Removes `uid`'s link in both directions (REST `del`); returns whether there was one.
    func unlink(uid: String) async throws -> Bool
}

/// What ``IdentityLinkStore/link(email:uid:)`` and ``IdentityLinkStore/relink(uid:email:)`` did.
public enum LinkOutcome: Sendable, Equatable {
    /// The link was written.
    case created
    /// Exactly this link existed already; nothing changed.
    case alreadyLinked
    /// The e-mail belongs to another uid, given here; nothing changed.
    case conflict(existingUID: String)
    /// The uid is linked to another e-mail, given here; nothing changed (only ``IdentityLinkStore/link(email:uid:)``).
    case uidHasOtherEmail(String)
}

/// Why an ``IdentityLinkStore`` refused or failed an operation.
public enum IdentityLinkError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The uid is not 11 characters of `A-Z a-z 0-9 - _` (a `usr` prefix is not accepted).
    case invalidUID
    /// The e-mail is empty.
    case invalidEmail
    /// Valkey could not be reached, refused the command or answered in an unexpected shape.
    case backend(ValkeyError)

    public var description: String {
        switch self {
        case .invalidUID: "a Tinode uid must be 11 characters of A-Z a-z 0-9 - _, without the usr prefix"
        case .invalidEmail: "the e-mail to link is empty"
        case .backend(let error): "identity link store unavailable: \(error)"
        }
    }
}

/// The input checks every ``IdentityLinkStore`` applies before it touches its storage.
enum IdentityLinkInput {
    /// Length of a Tinode uid: 8 bytes in unpadded base64url.
    static let uidLength = 11

    static func check(uid: String) throws(IdentityLinkError) {
        guard uid.utf8.count == uidLength, uid.utf8.allSatisfy(isBase64URL) else { throw .invalidUID }
    }

    static func check(email: String) throws(IdentityLinkError) {
        guard !email.isEmpty else { throw .invalidEmail }
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
