import Foundation
import MongoReader

/// One room with members in every state the visibility rules tell apart, and a history with
/// tombstones and soft deletes, as Tinode would have stored it. Shared by the reader's integration
/// suite and the Gateway's.
public struct VisibilityWorld: Sendable {
    public let room = "grp" + TinodeIDs.random()
    public let otherRoom = "grp" + TinodeIDs.random()
    public let deletedRoom = "grp" + TinodeIDs.random()
    public let alice = TinodeIDs.random()  // owner, reads everything
    public let bob = TinodeIDs.random()  // member, no basic login, soft-deleted other messages
    public let carol = TinodeIDs.random()  // banned: J taken away in modegiven
    public let dave = TinodeIDs.random()  // left: deletedat set
    public let erin = TinodeIDs.random()  // R taken away (JWP)
    public let frank = TinodeIDs.random()  // suspended account (state 10), subscription intact
    public let gina = TinodeIDs.random()  // never subscribed
    public let hank = TinodeIDs.random()  // read-only member (JR)
    public let ivy = TinodeIDs.random()  // subscription marked state 20 by an owner's soft-deletion
    public let nameless = TinodeIDs.random()  // member whose public is null
    public static let aliceLogin = "alice_ex_1f9d9a9e"
    public static let lastSeq: Int32 = 30
    public static let tombstoneSeq: Int32 = 5
    /// Hidden for alice only.
    public static let aliceDeletedSeq: Int32 = 7
    /// Hidden for alice and bob.
    public static let bothDeletedSeq: Int32 = 8
    /// Hidden for bob only.
    public static let bobDeletedSeq: Int32 = 9
    public static let firstMessageTime: Int64 = 1_700_000_000_000

    public init() {}

    /// The time of message `seq` (ms; every 7th with a round second, to check the `ts` text).
    public static func time(_ seq: Int32) -> Int64 { firstMessageTime + Int64(seq) * (seq % 7 == 0 ? 1000 : 1234) }

    /// The sender of message `seq` (alternating alice and bob; the nameless member sends seq 3).
    public func sender(_ seq: Int32) -> String { seq == 3 ? nameless : (seq % 2 == 0 ? alice : bob) }

    /// The stored content of message `seq`: plain text mostly, Drafty with doubles, and a few
    /// other shapes clients may send.
    public static func content(_ seq: Int32) -> BSONValue {
        switch seq {
        case 11:
            return .document([
                "txt": .string("bold & <b>"), "fmt": .array([.document(["at": .double(0), "len": .double(4), "tp": .string("ST")])]),
            ])
        case 12: return .null
        case 13: return .array([.double(1.5), .bool(true), .string("x")])
        case 14: return .double(0.1)
        case 15: return .document([])
        default: return .string("message \(seq)")
        }
    }

    /// Every document, by collection.
    public var collections: [String: [[BSONElement]]] {
        let members: [(String, Int64, Int64, Int64?, Int32?)] = [
            (alice, TinodeDocuments.ownerMode, TinodeDocuments.ownerMode, nil, nil),
            (bob, TinodeDocuments.memberMode, TinodeDocuments.memberMode, nil, nil),
            (carol, TinodeDocuments.memberMode, 46, nil, nil),
            (dave, TinodeDocuments.memberMode, TinodeDocuments.memberMode, 1_700_000_500_000, nil),
            (erin, TinodeDocuments.memberMode, TinodeDocuments.writeOnlyMode, nil, nil),
            (frank, TinodeDocuments.memberMode, TinodeDocuments.memberMode, nil, nil),
            (hank, TinodeDocuments.readOnlyMode, TinodeDocuments.memberMode, nil, nil),
            (ivy, TinodeDocuments.memberMode, TinodeDocuments.memberMode, nil, 20),
            (nameless, TinodeDocuments.memberMode, TinodeDocuments.memberMode, nil, nil),
        ]
        var subscriptions = members.map {
            TinodeDocuments.subscription(topic: room, user: $0.0, want: $0.1, given: $0.2, deletedAt: $0.3, state: $0.4)
        }
        subscriptions.append(TinodeDocuments.subscription(topic: otherRoom, user: alice))
        subscriptions.append(TinodeDocuments.subscription(topic: deletedRoom, user: alice, deletedAt: 1_700_000_900_000))
        // The `me` subscription every user has; never a topic of its own.
        subscriptions.append(TinodeDocuments.subscription(topic: "usr" + alice, user: alice, want: 41, given: 41))

        var messages: [[BSONElement]] = []
        for seq in 1...Self.lastSeq {
            if seq == Self.tombstoneSeq {
                messages.append(TinodeDocuments.tombstone(topic: room, seq: seq, createdAt: Self.time(seq), delID: 1))
                continue
            }
            var message = TinodeDocuments.message(
                topic: room, seq: seq, from: sender(seq), createdAt: Self.time(seq), content: Self.content(seq),
                head: seq == 11 ? [BSONElement("mime", .string("text/x-drafty"))] : [])
            switch seq {
            case Self.aliceDeletedSeq: message = TinodeDocuments.softDeleted(message, for: [alice], delID: 2)
            case Self.bothDeletedSeq: message = TinodeDocuments.softDeleted(message, for: [bob, alice], delID: 3)
            case Self.bobDeletedSeq: message = TinodeDocuments.softDeleted(message, for: [bob], delID: 3)
            default: break
            }
            messages.append(message)
        }
        // Other topics' messages, with seq ids that overlap the room's.
        for seq: Int32 in 1...40 {
            messages.append(
                TinodeDocuments.message(
                    topic: otherRoom, seq: seq, from: alice, createdAt: Self.time(seq), content: .string("elsewhere \(seq)")))
        }
        messages.append(
            TinodeDocuments.message(topic: deletedRoom, seq: 1, from: alice, createdAt: Self.time(1), content: .string("gone")))

        return [
            "users": [
                TinodeDocuments.user(alice, name: "Alice", tags: ["basic:" + Self.aliceLogin]),
                TinodeDocuments.user(bob, name: "Bob"), TinodeDocuments.user(carol, name: "Carol"),
                TinodeDocuments.user(dave, name: "Dave"), TinodeDocuments.user(erin, name: "Erin"),
                TinodeDocuments.user(frank, name: "Frank", state: 10), TinodeDocuments.user(gina, name: "Gina"),
                TinodeDocuments.user(hank, name: "Hank"), TinodeDocuments.user(ivy, name: "Ivy"),
                TinodeDocuments.user(nameless, name: nil),
            ],
            "auth": [TinodeDocuments.basicAuth(login: Self.aliceLogin, user: alice)],
            "topics": [
                TinodeDocuments.groupTopic(room, owner: alice, seq: Self.lastSeq),
                TinodeDocuments.groupTopic(otherRoom, owner: alice, seq: 40),
                TinodeDocuments.groupTopic(deletedRoom, owner: alice, seq: 1, state: 20),
            ],
            "subscriptions": subscriptions,
            "messages": messages,
        ]
    }

    /// The seqs `user` should see, newest first.
    public func visibleSeqs(for user: String) -> [Int] {
        (1...Int(Self.lastSeq)).reversed().filter { seq in
            if seq == Int(Self.tombstoneSeq) || seq == Int(Self.bothDeletedSeq) { return false }
            if user == alice && seq == Int(Self.aliceDeletedSeq) { return false }
            if user == bob && seq == Int(Self.bobDeletedSeq) { return false }
            return true
        }
    }

    /// Loads the world into `database`.
    public func load(into database: TestMongoDatabase) throws {
        for (collection, documents) in collections.sorted(by: { $0.key < $1.key }) { try database.insert(collection, documents) }
    }
}
