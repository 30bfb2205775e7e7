import Foundation
import MongoReader
import MongoTestSupport
import Testing

/// The reader against a real MongoDB-compatible server (`MONGO_TEST_URL`), loaded with documents
/// shaped as Tinode stores them: every visibility rule, paging edges, content and the directory.
/// No MongoDB server can be installed on the project's machines, so this suite is skipped there;
/// scripts/test says so when `MONGO_TEST_URL` is unset.
@Suite("MongoDB reader against a server (MONGO_TEST_URL)", .enabled(if: TestMongoDatabase.url != nil), .timeLimit(.minutes(2)))
struct VisibilityIntegrationTests {
    let world = VisibilityWorld()

    /// Runs `body` with a reader of a freshly loaded scratch database, dropped afterwards.
    func withWorld(_ body: (TinodeStoreReader) async throws -> Void) async throws {
        let database = try TestMongoDatabase(url: try #require(TestMongoDatabase.url))
        defer { database.drop() }
        try world.load(into: database)
        let reader = try TinodeStoreReader(settings: database.readerSettings())
        do {
            try await body(reader)
        } catch {
            await reader.shutdown()
            throw error
        }
        await reader.shutdown()
    }

    func seqs(_ answer: HistoryAnswer) -> [Int]? {
        if case .page(let messages) = answer { return messages.map(\.seq) }
        return nil
    }

    func id(_ stored: String) -> TinodeUserID { TinodeUserID(stored: stored)! }

    @Test("a member sees the history newest first, without tombstones or what they soft-deleted")
    func visibleHistory() async throws {
        try await withWorld { (reader: TinodeStoreReader) async throws in
            let alice = try await reader.history(of: world.room, for: id(world.alice), before: nil, limit: 100)
            #expect(seqs(alice) == world.visibleSeqs(for: world.alice))
            let bob = try await reader.history(of: world.room, for: id(world.bob), before: nil, limit: 100)
            #expect(seqs(bob) == world.visibleSeqs(for: world.bob))
            // What one user soft-deleted stays visible to the others.
            #expect(seqs(bob)?.contains(Int(VisibilityWorld.aliceDeletedSeq)) == true)
            #expect(seqs(alice)?.contains(Int(VisibilityWorld.bobDeletedSeq)) == true)
            let hank = try await reader.history(of: world.room, for: id(world.hank), before: nil, limit: 100)
            #expect(seqs(hank)?.count == Int(VisibilityWorld.lastSeq) - 2)
        }
    }

    @Test("who may not read, and why")
    func denials() async throws {
        try await withWorld { (reader: TinodeStoreReader) async throws in
            func denial(_ user: String, _ topic: String? = nil) async throws -> HistoryAnswer {
                try await reader.history(of: topic ?? world.room, for: id(user), before: nil, limit: 10)
            }
            #expect(try await denial(world.carol) == .denied(.noReadAccess))
            #expect(try await denial(world.erin) == .denied(.noReadAccess))
            #expect(try await denial(world.dave) == .denied(.notSubscribed))
            #expect(try await denial(world.gina) == .denied(.notSubscribed))
            #expect(try await denial(world.frank) == .denied(.userInactive))
            #expect(try await denial(TinodeIDs.random()) == .denied(.userInactive))
            #expect(try await denial(world.ivy) == .denied(.topicNotFound))
            #expect(try await denial(world.alice, world.deletedRoom) == .denied(.topicNotFound))
            #expect(try await denial(world.alice, "grp" + TinodeIDs.random()) == .denied(.topicNotFound))
        }
    }

    @Test("paging by seq: `before` is exclusive, hidden messages do not use up the limit, the ends are empty")
    func paging() async throws {
        try await withWorld { (reader: TinodeStoreReader) async throws in
            let alice = id(world.alice)
            func page(_ before: Int?, _ limit: Int) async throws -> [Int]? {
                seqs(try await reader.history(of: world.room, for: alice, before: before, limit: limit))
            }
            #expect(try await page(nil, 1) == [30])
            #expect(try await page(12, 3) == [11, 10, 9])
            #expect(try await page(9, 2) == [6, 4])  // 8, 7 (soft-deleted) and 5 (tombstone) skipped
            #expect(try await page(2, 10) == [1])
            #expect(try await page(1, 10) == [])
            #expect(try await page(1000, 2) == [30, 29])
            // Walking the whole history 4 at a time gives every visible message once, in order.
            var walked: [Int] = []
            var before: Int? = nil
            while let next = try await page(before, 4), !next.isEmpty {
                walked += next
                before = next.last
            }
            #expect(walked == world.visibleSeqs(for: world.alice))
        }
    }

    @Test("messages carry sender without `usr`, createdat, and content and head as Tinode's JSON")
    func messageFields() async throws {
        try await withWorld { (reader: TinodeStoreReader) async throws in
            guard case .page(let messages) = try await reader.history(of: world.room, for: id(world.alice), before: 16, limit: 6)
            else {
                Issue.record("denied")
                return
            }
            let bySeq = Dictionary(uniqueKeysWithValues: messages.map { ($0.seq, $0) })
            func text(_ seq: Int) -> String? { bySeq[seq].map { String(decoding: $0.content, as: UTF8.self) } }
            #expect(text(10) == "\"message 10\"")
            #expect(text(11) == #"{"fmt":[{"at":0,"len":4,"tp":"ST"}],"txt":"bold \u0026 \u003cb\u003e"}"#)
            #expect(text(12) == "null")
            #expect(text(13) == "[1.5,true,\"x\"]")
            #expect(text(14) == "0.1")
            #expect(text(15) == "[]")
            #expect(bySeq[11]?.head.mapValues { String(decoding: $0, as: UTF8.self) } == ["mime": "\"text/x-drafty\""])
            #expect(bySeq[10]?.head == [:])
            #expect(bySeq[10]?.from == world.alice)
            #expect(bySeq[11]?.from == world.bob)
            #expect(bySeq[14]?.createdAtMilliseconds == VisibilityWorld.time(14))
        }
    }

    @Test("the directory: members of the caller's room only, active accounts only, login from `auth`")
    func directory() async throws {
        try await withWorld { (reader: TinodeStoreReader) async throws in
            let alice = id(world.alice)
            #expect(
                try await reader.directoryEntry(of: id(world.bob), for: alice, in: world.room)
                    == .found(DirectoryEntry(userID: id(world.bob), name: "Bob", login: nil)))
            #expect(
                try await reader.directoryEntry(of: alice, for: id(world.bob), in: world.room)
                    == .found(DirectoryEntry(userID: alice, name: "Alice", login: VisibilityWorld.aliceLogin)))
            #expect(
                try await reader.directoryEntry(of: id(world.nameless), for: alice, in: world.room)
                    == .found(DirectoryEntry(userID: id(world.nameless), name: nil, login: nil)))
            // A read-only member is still a member.
            let hank = try await reader.directoryEntry(of: id(world.hank), for: alice, in: world.room)
            #expect(hank == .found(DirectoryEntry(userID: id(world.hank), name: "Hank", login: nil)))
            for hidden in [world.gina, world.frank, world.dave, world.carol, TinodeIDs.random()] {
                #expect(try await reader.directoryEntry(of: id(hidden), for: alice, in: world.room) == .notFound)
            }
            #expect(try await reader.directoryEntry(of: alice, for: id(world.frank), in: world.room) == .denied(.userInactive))
            #expect(try await reader.directoryEntry(of: alice, for: id(world.gina), in: world.room) == .denied(.notSubscribed))
        }
    }
}
