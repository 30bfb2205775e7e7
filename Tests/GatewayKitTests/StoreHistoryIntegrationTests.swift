import Foundation
import Hummingbird
import HummingbirdTesting
import MongoReader
import MongoTestSupport
import Testing
import TinodeDouble

@testable import GatewayKit

/// Both history backends on the same data (MONGO_TEST_URL only): messages go through the Gateway
/// into the Tinode double, the same messages are written to MongoDB as Tinode would have stored
/// them, and `GET /v1/messages` must answer the same JSON through the protocol path and through
/// MongoDB. Skipped where no MongoDB server runs (the project's machines); scripts/test says so.
@Suite("Gateway history: protocol and MongoDB agree (MONGO_TEST_URL)", .enabled(if: TestMongoDatabase.url != nil), .timeLimit(.minutes(3)))
struct StoreHistoryIntegrationTests {
    @Test("the same pages, the same JSON, and the user directory from the same data")
    func backendsAgree() async throws {
        let database = try TestMongoDatabase(url: try #require(TestMongoDatabase.url))
        defer { database.drop() }
        try await GatewayHarness.run { gateway in
            let (_, ann) = try await gateway.register("ann")
            let (_, bob) = try await gateway.register("bob")
            let annToken = try #require(ann["access_token"] as? String)
            let bobToken = try #require(bob["access_token"] as? String)
            for (index, content) in StoreHistoryTests.contents.enumerated() {
                let body: [String: Any] =
                    index == 0
                    ? ["text": "plain <text> & more"] : ["content": ["txt": "drafty \(index)", "fmt": [["at": index, "len": 1.5]]]]
                #expect(
                    try await gateway.request(.post, "/v1/messages", json: body, token: index % 2 == 0 ? annToken : bobToken).status == 201)
                try gateway.double.publish(
                    asUser: try #require(bob["user_id"] as? String), topic: gateway.room, content: Data(content.utf8))
            }
            let users = [ann, bob].map { answer in
                let login = answer["login"] as? String ?? ""
                return MirroredUser(
                    userID: answer["user_id"] as? String ?? "", login: login, name: login.split(separator: "_").first.map { $0.capitalized }
                )
            }
            let messages = gateway.double.messages(inTopic: gateway.room).map { message in
                MirroredMessage(
                    seq: message.seq, from: message.from,
                    timestampMilliseconds: Int64((message.timestamp.timeIntervalSince1970 * 1000).rounded()),
                    content: message.content, head: message.head)
            }
            try TinodeMirror.write(room: gateway.room, users: users, messages: messages, into: database)

            let paths = [
                "/v1/messages", "/v1/messages?limit=3", "/v1/messages?limit=5&before=12", "/v1/messages?before=2", "/v1/messages?limit=100",
            ]
            var protocolAnswers: [String] = []
            for path in paths { protocolAnswers.append(try await gateway.request(.get, path, token: annToken).text) }

            let expectedAnswers = protocolAnswers
            let bobID = try #require(bob["user_id"] as? String)
            let bobLogin = bob["login"] as? String
            let app = try await GatewayHarness.makeApplication(
                double: gateway.double, room: gateway.room,
                extraEnvironment: ["MONGO_URL": database.url, "MONGO_DATABASE": database.name, "MONGO_TIMEOUT_MS": "5000"])
            try await app.test(.live) { client in
                let mongo = GatewayHarness(client: client, double: gateway.double, room: gateway.room, port: client.port ?? 0)
                for (path, expected) in zip(paths, expectedAnswers) {
                    let reply = try await mongo.request(.get, path, token: annToken)
                    #expect(reply.status == 200)
                    #expect(reply.text == expected, "\(path)")
                }
                let entry = try await mongo.request(.get, "/v1/users/\(bobID)", token: annToken)
                #expect(entry.status == 200, "\(entry.text)")
                #expect(entry.json?["user_id"] as? String == bobID)
                #expect(entry.json?["name"] as? String == "Bob")
                #expect(entry.json?["login"] as? String == bobLogin)
                #expect(try await mongo.request(.get, "/v1/users/usr7yUCHniegrM", token: annToken).status == 404)
            }
        }
    }
}
