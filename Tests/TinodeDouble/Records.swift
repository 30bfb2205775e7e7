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
    /// Group names, in the order the user subscribed.
    var groups: [String] = []
}

struct DefaultAccess: Sendable {
    var auth: AccessMode
    var anon: AccessMode
}

/// An unvalidated credential (the fixture server requires none, so none is ever validated).
struct CredentialRecord: Sendable {
    var method: String
    var value: String
}

/// A group topic with its subscriptions and history.
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
    /// Seq n is at index n - 1: nothing is ever deleted.
    var messages: [MessageRecord] = []
    var subscriberOrder: [String] = []
    var subscriptions: [String: SubscriptionRecord] = [:]
    /// Sessions attached to the topic and, per user, how many of theirs are.
    var attachedSessions: Set<Int> = []
    var attachedCountByUser: [String: Int] = [:]

    var lastSeq: Int { messages.count }
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
