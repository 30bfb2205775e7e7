import Foundation
import MongoReader
import TestSupport
import Testing

/// What the reader does when MongoDB cannot be reached, checked against a closed loopback port
/// (these run everywhere: they need no MongoDB).
@Suite("MongoDB reader failures", .timeLimit(.minutes(1)))
struct ReaderFailureTests {
    static let alice = TinodeUserID(stored: "7yUCHniegrM")!

    @Test("an unreachable server fails the read within the deadline, with MongoDB's reason")
    func unreachable() async throws {
        let port = try freeLoopbackPort()
        let reader = try TinodeStoreReader(
            settings: MongoReaderSettings(url: "mongodb://127.0.0.1:\(port)/", timeout: .milliseconds(600), poolSize: 2))
        let started = ContinuousClock.now
        await #expect(throws: MongoReaderError.self) {
            _ = try await reader.history(of: "grpX", for: Self.alice, before: nil, limit: 10)
        }
        let elapsed = ContinuousClock.now - started
        #expect(elapsed < .seconds(3), "took \(elapsed)")
        await reader.shutdown()
    }

    @Test("the overall deadline answers even while libmongoc still waits (its own timeouts set longer in the URL)")
    func deadline() async throws {
        let port = try freeLoopbackPort()
        let reader = try TinodeStoreReader(
            settings: MongoReaderSettings(
                url: "mongodb://127.0.0.1:\(port)/?serverSelectionTimeoutMS=5000", timeout: .milliseconds(300), poolSize: 1))
        let started = ContinuousClock.now
        do {
            _ = try await reader.directoryEntry(of: Self.alice, for: Self.alice, in: "grpX")
            Issue.record("read succeeded without a server")
        } catch let error as MongoReaderError {
            #expect(error == .deadlineExceeded)
        }
        #expect(ContinuousClock.now - started < .seconds(2))
        await reader.shutdown()
    }

    @Test("many reads at once during an outage all end near the deadline (no backlog behind one thread)")
    func noBacklog() async throws {
        let port = try freeLoopbackPort()
        let reader = try TinodeStoreReader(
            settings: MongoReaderSettings(url: "mongodb://127.0.0.1:\(port)/", timeout: .milliseconds(400), poolSize: 1))
        let started = ContinuousClock.now
        let failures = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<20 {
                group.addTask { (try? await reader.history(of: "grpX", for: Self.alice, before: nil, limit: 1)) == nil }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(failures == 20)
        #expect(ContinuousClock.now - started < .seconds(3))
        await reader.shutdown()
    }

    @Test("a connection string libmongoc refuses is a configuration error that does not repeat the password")
    func invalidURL() {
        do {
            _ = try TinodeStoreReader(settings: MongoReaderSettings(url: "mongodb://reader:s3cr3t-pw@/?replicaSet="))
            Issue.record("accepted")
        } catch {
            guard case .invalidConfiguration(let message) = error else {
                Issue.record("\(error)")
                return
            }
            #expect(!message.contains("s3cr3t-pw"))
        }
        #expect(throws: MongoReaderError.self) {
            _ = try TinodeStoreReader(settings: MongoReaderSettings(url: "mongodb://127.0.0.1/", database: "bad.name"))
        }
    }

    @Test(
        "the URL is logged with its password masked",
        arguments: [
            (
                "mongodb://reader:pw@mongo1:27017,mongo2:27018/?replicaSet=rs0",
                "mongodb://reader:***@mongo1:27017,mongo2:27018/?replicaSet=rs0"
            ),
            ("mongodb://reader:p%40ss:w@mongo1/tinode", "mongodb://reader:***@mongo1/tinode"),
            (
                "mongodb+srv://user:pw@cluster.example.com/?authSource=admin&x=a@b",
                "mongodb+srv://user:***@cluster.example.com/?authSource=admin&x=a@b"
            ),
            ("mongodb://mongo1:27017/?replicaSet=rs0", "mongodb://mongo1:27017/?replicaSet=rs0"),
            ("mongodb://onlyuser@mongo1/", "mongodb://onlyuser@mongo1/"),
        ])
    func redaction(url: String, expected: String) {
        #expect(MongoReaderSettings.redacted(url) == expected)
    }
}
