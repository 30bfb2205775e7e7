/// Why a user may not read a topic, in Tinode's own terms.
public enum AccessDenial: Sendable, Equatable {
    /// The reading user is missing, suspended or deleted (Tinode would refuse their login).
    case userInactive
    /// No such topic, or it is soft-deleted.
    case topicNotFound
    /// No live subscription (never joined, left, or removed).
    case notSubscribed
    /// Subscribed, but without J and R on both sides (e.g. banned, or R taken away).
    case noReadAccess
}

/// A message as stored, with its `content` and `head` already in the JSON Tinode would send.
public struct StoredMessage: Sendable, Equatable {
    public var seq: Int
    /// The sender's stored id (no `usr` prefix); empty when Tinode left it empty.
    public var from: String
    /// `createdat`: the message's time, milliseconds since the epoch (UTC).
    public var createdAtMilliseconds: Int64
    /// JSON bytes (a JSON string for plain text, an object for Drafty).
    public var content: [UInt8]
    /// Each head value as JSON bytes.
    public var head: [String: [UInt8]]

    public init(seq: Int, from: String, createdAtMilliseconds: Int64, content: [UInt8], head: [String: [UInt8]]) {
        self.seq = seq
        self.from = from
        self.createdAtMilliseconds = createdAtMilliseconds
        self.content = content
        self.head = head
    }

    /// From a `messages` document; nil when it lacks the fields every message has.
    init?(document: BSONDocument) {
        guard let seq = document.integer("seqid"), let createdAt = document.dateTime("createdat") else { return nil }
        self.init(
            seq: Int(seq), from: document.string("from") ?? "", createdAtMilliseconds: createdAt,
            content: document.json("content") ?? Array("null".utf8), head: document.jsonMembers("head"))
    }
}

/// The answer to a history read.
public enum HistoryAnswer: Sendable, Equatable {
    /// Newest first.
    case page([StoredMessage])
    case denied(AccessDenial)
}

/// A user as the directory shows them.
public struct DirectoryEntry: Sendable, Equatable {
    public var userID: TinodeUserID
    /// `public.fn`, nil when there is none.
    public var name: String?
    /// The `basic` login name, nil when the account has none (e.g. created through REST auth).
    public var login: String?

    public init(userID: TinodeUserID, name: String?, login: String?) {
        self.userID = userID
        self.name = name
        self.login = login
    }
}

/// The answer to a directory look-up.
public enum DirectoryAnswer: Sendable, Equatable {
    case found(DirectoryEntry)
    /// No such active user, or one who does not share the topic with the caller (not told apart, so
    /// that the directory does not reveal who exists).
    case notFound
    /// The caller may not read the topic themselves.
    case denied(AccessDenial)
}
