import Foundation
import MongoReader

/// A user as the Gateway knows them (`usr...` id), to be written into MongoDB.
public struct MirroredUser: Sendable {
    public var userID: String
    public var login: String
    public var name: String?

    public init(userID: String, login: String, name: String?) {
        self.userID = userID
        self.login = login
        self.name = name
    }
}

/// A message as Tinode delivered it (client JSON bytes), to be written as Tinode stores it.
public struct MirroredMessage: Sendable {
    public var seq: Int
    /// `usr...`
    public var from: String
    public var timestampMilliseconds: Int64
    public var content: Data
    public var head: [String: Data]

    public init(seq: Int, from: String, timestampMilliseconds: Int64, content: Data, head: [String: Data] = [:]) {
        self.seq = seq
        self.from = from
        self.timestampMilliseconds = timestampMilliseconds
        self.content = content
        self.head = head
    }
}

/// Writes a room, its members and its messages into MongoDB in Tinode's own shapes, so that the
/// MongoDB path can be compared with the protocol path on the same data.
public enum TinodeMirror {
    public static func write(room: String, users: [MirroredUser], messages: [MirroredMessage], into database: TestMongoDatabase) throws {
        let stored = users.map { String($0.userID.dropFirst(3)) }
        try database.insert("users", zip(users, stored).map { TinodeDocuments.user($1, name: $0.name) })
        try database.insert("auth", zip(users, stored).map { TinodeDocuments.basicAuth(login: $0.login, user: $1) })
        try database.insert("subscriptions", stored.map { TinodeDocuments.subscription(topic: room, user: $0) })
        try database.insert("topics", [TinodeDocuments.groupTopic(room, owner: stored.first ?? "", seq: Int32(messages.count))])
        let documents = try messages.map { message in
            guard let content = ClientJSON.storedContent(message.content) else { throw TestDatabaseError.failed("content is not JSON") }
            return TinodeDocuments.message(
                topic: room, seq: Int32(message.seq), from: String(message.from.dropFirst(3)), createdAt: message.timestampMilliseconds,
                content: content,
                head: message.head.sorted { $0.key < $1.key }.compactMap { key, value in
                    ClientJSON.storedContent(value).map { BSONElement(key, $0) }
                })
        }
        try database.insert("messages", documents)
    }
}
