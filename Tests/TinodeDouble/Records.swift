import Foundation

/// A user account: what Tinode keeps in its users and auth tables.
struct UserRecord: Sendable {
    let id: String
    var login: String?
    /// Kept in clear: this is an in-memory test double, not a credential store.
    var password: String?
    var isRoot = false
    var isDeleted = false
    let createdAt: Int64
    var updatedAt: Int64
    var publicJSON: Data?
    var privateJSON: Data?
    var defaultAccess = DefaultAccess(auth: AccessMode("JRWPASD"), anon: .none)
    var tags: [String] = []
    var credentials: [CredentialRecord] = []
    /// Topic keys (group names, internal p2p names), in the order the user subscribed.
    var groups: [String] = []
    /// Subscriptions the user gave up (`leave unsub`), with when: `if_modified_since` lists show them.
    var unsubscribed: [String: Int64] = [:]

    /// Whether an e-mail credential was validated, which required validation asks for.
    var hasValidatedEmail: Bool {
        credentials.contains { $0.method == "email" && $0.isValidated }
    }
}

struct DefaultAccess: Sendable {
    var auth: AccessMode
    var anon: AccessMode
}

/// A credential. Only required validation (`Options.emailValidation`) ever validates one; over gRPC
/// nobody sees the difference but the login (fixture i: `ServerCred.done` is never sent).
struct CredentialRecord: Sendable {
    var method: String
    var value: String
    var isValidated = false
    /// The code the confirmation mail carried.
    var code: String?
    /// Wrong answers since that code was sent.
    var retries = 0
}

/// A confirmation mail the double would have sent over SMTP.
struct MailRecord: Sendable {
    let user: String
    let address: String
    let subject: String
    let code: String
}

/// A group or p2p topic with its subscriptions and history. A p2p topic is stored under an internal
/// `p2p...` key that no client ever sees: each side names it by the other user's `usr...` id.
struct TopicRecord: Sendable {
    let name: String
    var owner: String
    let createdAt: Int64
    var updatedAt: Int64
    /// Time of the latest message (creation time before the first one).
    var touchedAt: Int64
    var publicJSON: Data?
    var defaultAccess: DefaultAccess
    var tags: [String]
    /// The live messages, seq ascending; hard-deleted ones are gone.
    var messages: [MessageRecord] = []
    /// The seq of the latest message, deleted or not.
    var lastSeq = 0
    /// Each `{del what=MSG}`, in order; its del_id is its position + 1.
    var deletions: [[ClosedRange<Int>]] = []
    var subscriberOrder: [String] = []
    var subscriptions: [String: SubscriptionRecord] = [:]
    /// Sessions attached to the topic and, per user, how many of theirs are.
    var attachedSessions: Set<Int> = []
    var attachedCountByUser: [String: Int] = [:]

    var isP2P: Bool { name.hasPrefix(TopicKey.p2pPrefix) }
    /// When the topic's row last changed (created, described, a message): Tinode's adapter lists the
    /// user's topics in that order.
    var changedAt: Int64 { max(updatedAt, touchedAt) }
    var isOnline: Bool { !attachedSessions.isEmpty }
}

struct SubscriptionRecord: Sendable {
    var access: AccessPair
    let createdAt: Int64
    var updatedAt: Int64
    var readID = 0
    var recvID = 0
    var privateJSON: Data?
}

struct MessageRecord: Sendable {
    let seq: Int
    let from: String
    let timestamp: Int64
    /// What subscribers get: Tinode's re-encoding (null for invalid JSON, invalid head values dropped).
    let content: Data
    let head: [String: Data]
    /// What the publisher sent, for `TinodeDouble.messages(inTopic:)`.
    let receivedContent: Data
    let receivedHead: [String: Data]
}

/// One `MessageLoop` stream, which is one Tinode session.
struct SessionRecord: Sendable {
    let id: Int
    let outbox: Outbox
    let stopSignal: StopSignal
    /// The client's `ip:port`, which a REST-auth `auth` request carries as `addr`.
    let remoteAddress: String
    /// 0 until a successful `hi`.
    var version = 0
    var userID: String?
    var authLevel = AuthLevel.none
    var deviceID = ""
    var language = ""
    /// Topic names as the user sees them: "me", "fnd", "grp...".
    var attached: Set<String> = []
    /// The last `{set fnd desc.public}` query.
    var findQuery: String?
    /// The server has stopped writing; the next client message ends the call (fixtures h1/h2).
    var isHalfDead = false
}

/// What the fault knobs currently ask for.
struct FaultSettings: Sendable {
    var replyDelay: ClosedRange<Duration>?
    var droppedReplies: [String: Int] = [:]
    var heldUsers: Set<String> = []
}
