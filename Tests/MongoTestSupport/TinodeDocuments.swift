import Foundation
import MongoReader

/// Documents shaped exactly as Tinode v0.25.3 stores them (tinode-mongo-schema.md §0, §2): string
/// ids without the `usr` prefix, int32 states and seq ids, int64 access bit masks, datetimes, null
/// where Go writes a nil slice or map, `deletedat` absent on live subscriptions, tombstones with
/// `delid` and null content, and `deletedfor` entries for soft deletes.
public enum TinodeDocuments {
    /// Access modes as stored (§2.4).
    public static let memberMode: Int64 = 47  // JRWPS
    public static let ownerMode: Int64 = 255  // JRWPASDO
    public static let readOnlyMode: Int64 = 3  // JR
    public static let writeOnlyMode: Int64 = 13  // JWP, no R

    public static func user(
        _ id: String, name: String?, state: Int32 = 0, createdAt: Int64 = 1_700_000_000_000, tags: [String]? = nil
    ) -> [BSONElement] {
        var publicCard: BSONValue = .null
        if let name { publicCard = .document(["fn": .string(name)]) }
        return [
            BSONElement("_id", .string(id)), BSONElement("createdat", .dateTime(createdAt)), BSONElement("updatedat", .dateTime(createdAt)),
            BSONElement("state", .int32(state)),
            BSONElement("access", .document(["auth": .int64(47), "anon": .int64(0)])),
            BSONElement("lastseen", .null), BSONElement("useragent", .string("")), BSONElement("public", publicCard),
            BSONElement("trusted", .null), BSONElement("tags", tags.map { .array($0.map(BSONValue.string)) } ?? .null),
            BSONElement("devices", .null),
        ]
    }

    /// The `auth` record of a basic login (`expires` is Go's zero time: never).
    public static func basicAuth(login: String, user: String) -> [BSONElement] {
        [
            BSONElement("_id", .string("basic:" + login)), BSONElement("userid", .string(user)), BSONElement("scheme", .string("basic")),
            BSONElement("authlvl", .int32(20)), BSONElement("secret", .binary(Array("$2a$10$notarealbcrypthash".utf8))),
            BSONElement("expires", .dateTime(-62_135_596_800_000)),
        ]
    }

    public static func groupTopic(_ name: String, owner: String, seq: Int32, state: Int32 = 0) -> [BSONElement] {
        [
            BSONElement("_id", .string(name)), BSONElement("createdat", .dateTime(1_700_000_000_000)),
            BSONElement("updatedat", .dateTime(1_700_000_000_000)), BSONElement("state", .int32(state)),
            BSONElement("touchedat", .dateTime(1_700_000_000_000)), BSONElement("usebt", .bool(false)),
            BSONElement("owner", .string(owner)), BSONElement("access", .document(["auth": .int64(15), "anon": .int64(0)])),
            BSONElement("seqid", .int32(seq)), BSONElement("delid", .int32(0)), BSONElement("subcnt", .int32(2)),
            BSONElement("public", .document(["fn": .string("general")])), BSONElement("trusted", .null),
            BSONElement("tags", .array([.string("room:general")])),
        ]
    }

    /// A subscription `"<topic>:<user>"`; `deletedAt` marks one that was left or removed, `state`
    /// the mark an owner's soft-deletion leaves on other members' subscriptions.
    public static func subscription(
        topic: String, user: String, want: Int64 = memberMode, given: Int64 = memberMode, deletedAt: Int64? = nil, state: Int32? = nil
    ) -> [BSONElement] {
        var elements = [
            BSONElement("_id", .string(topic + ":" + user)), BSONElement("createdat", .dateTime(1_700_000_000_000)),
            BSONElement("updatedat", .dateTime(1_700_000_000_000)), BSONElement("user", .string(user)),
            BSONElement("topic", .string(topic)), BSONElement("delid", .int32(0)), BSONElement("recvseqid", .int32(0)),
            BSONElement("readseqid", .int32(0)), BSONElement("modewant", .int64(want)), BSONElement("modegiven", .int64(given)),
            BSONElement("private", .null),
        ]
        if let deletedAt { elements.append(BSONElement("deletedat", .dateTime(deletedAt))) }
        if let state {
            elements.append(BSONElement("state", .int32(state)))
            elements.append(BSONElement("stateat", .dateTime(1_700_000_100_000)))
        }
        return elements
    }

    /// A message as `MessageSave` writes it (`_id` is a fresh 11-character id; `head` absent when
    /// empty, omitempty).
    public static func message(
        topic: String, seq: Int32, from: String, createdAt: Int64, content: BSONValue, head: [BSONElement] = []
    ) -> [BSONElement] {
        var elements = [
            BSONElement("_id", .string(messageID(topic: topic, seq: seq))), BSONElement("createdat", .dateTime(createdAt)),
            BSONElement("updatedat", .dateTime(createdAt)), BSONElement("seqid", .int32(seq)), BSONElement("topic", .string(topic)),
            BSONElement("from", .string(from)),
        ]
        if !head.isEmpty { elements.append(BSONElement("head", .document(head))) }
        elements.append(BSONElement("content", content))
        return elements
    }

    /// What a hard delete leaves (§3.2): the document stays with `deletedat`, `delid`, and `from`,
    /// `head`, `content` and `attachments` emptied.
    public static func tombstone(topic: String, seq: Int32, createdAt: Int64, delID: Int32) -> [BSONElement] {
        [
            BSONElement("_id", .string(messageID(topic: topic, seq: seq))), BSONElement("createdat", .dateTime(createdAt)),
            BSONElement("updatedat", .dateTime(createdAt)), BSONElement("seqid", .int32(seq)), BSONElement("topic", .string(topic)),
            BSONElement("from", .string("")), BSONElement("head", .null), BSONElement("content", .null),
            BSONElement("attachments", .null), BSONElement("deletedat", .dateTime(createdAt + 60_000)),
            BSONElement("delid", .int32(delID)),
        ]
    }

    /// Marks a message soft-deleted for `users` (§3.3: `$addToSet deletedfor {user, delid}`).
    public static func softDeleted(_ message: [BSONElement], for users: [String], delID: Int32) -> [BSONElement] {
        message + [
            BSONElement(
                "deletedfor", .array(users.map { .document(["user": .string($0), "delid": .int32(delID)]) }))
        ]
    }

    /// A deterministic 11-character id for a message (its real `_id` carries no meaning).
    static func messageID(topic: String, seq: Int32) -> String {
        var hasher = 1_469_598_103_934_665_603 as UInt64
        for byte in (topic + ":" + String(seq)).utf8 { hasher = (hasher ^ UInt64(byte)) &* 1_099_511_628_211 }
        return TinodeIDs.encode(hasher)
    }
}

/// Tinode's id text: the 8 little-endian bytes of a 64-bit number in URL-safe base64 without padding.
public enum TinodeIDs {
    public static func encode(_ value: UInt64) -> String {
        let bytes = withUnsafeBytes(of: value.littleEndian) { Data($0) }
        return String(
            bytes.base64EncodedString().prefix(11).map { $0 == "+" ? "-" : ($0 == "/" ? "_" : $0) })
    }

    /// A random user id in the stored form.
    public static func random() -> String { encode(UInt64.random(in: 1...UInt64.max)) }
}
