import Foundation
import MongoReader
import Testing

/// The reader can only read: every request it can make is a `find`, and its sources call no
/// libmongoc function that writes.
@Suite("The MongoDB reader is read-only")
struct ReadOnlyTests {
    static let user = TinodeUserID(stored: "7yUCHniegrM")!

    /// Every query the reader builds.
    static let queries: [FindQuery] = [
        TinodeQueries.userState(user), TinodeQueries.topic("grpX"), TinodeQueries.subscription(topic: "grpX", user: user),
        TinodeQueries.messagePage(topic: "grpX", reader: user, before: nil, limit: 50),
        TinodeQueries.messagePage(topic: "grpX", reader: user, before: 9, limit: 1000), TinodeQueries.directoryUser(user),
        TinodeQueries.basicLogin(user),
    ]

    @Test("every query is a `find` command, with no write stage or write option anywhere")
    func onlyFind() {
        let writeWords = [
            "insert", "update", "delete", "findAndModify", "$out", "$merge", "createIndexes", "drop", "$set", "$unset", "$push",
            "$pull", "$addToSet", "$inc", "upsert", "writeConcern",
        ]
        for query in Self.queries {
            let command = BSONDocument(query.command)
            #expect(command.keys.first == "find")
            #expect(command.string("find") == query.collection)
            let text = command.canonicalExtendedJSON
            for word in writeWords { #expect(!text.contains("\"\(word)\""), "\(query.collection): \(word)") }
        }
    }

    @Test("the reader's sources call only libmongoc's find, never a write, command or index function")
    func noWriteCalls() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let sources = root.appendingPathComponent("Sources/MongoReader")
        let files = try #require(FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)?.allObjects as? [URL])
            .filter { $0.pathExtension == "swift" }
        #expect(files.count > 5)
        let forbidden = try Regex(
            #"mongoc_(collection_(insert|update|delete|replace|remove|save|find_and_modify|create_index|drop|rename|command|write|aggregate|create_bulk)|bulk_operation|database_(command|drop|create|write|add_user|remove)|client_(command|write|read_write)|gridfs)"#
        )
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8)
            #expect(text.firstMatch(of: forbidden) == nil, "\(file.lastPathComponent) calls a libmongoc function that could write")
        }
        let all = try files.map { try String(contentsOf: $0, encoding: .utf8) }.joined()
        #expect(all.contains("mongoc_collection_find_with_opts"))
    }
}
