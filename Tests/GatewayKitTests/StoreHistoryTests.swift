import Foundation
import Hummingbird
import HummingbirdTesting
import MongoReader
import MongoTestSupport
import SidecarServer
import TestSupport
import Testing
import TinodeDouble

@testable import GatewayKit

/// History and the user directory from MongoDB (`MONGO_URL`): what the routes answer when MongoDB
/// is unreachable (a closed loopback port, so these run everywhere), with and without the fall-back
/// to Tinode's protocol, and that stored messages come out as the protocol path's JSON.
@Suite("Gateway reads from MongoDB", .timeLimit(.minutes(3)))
struct StoreHistoryTests {
    func token(_ gateway: GatewayHarness, _ name: String) async throws -> String {
        let (_, tokens) = try await gateway.register(name)
        return try #require(tokens["access_token"] as? String)
    }

    func closedPortEnvironment(fallback: Bool) throws -> [String: String] {
        [
            "MONGO_URL": "mongodb://reader:s3cr3t-pw@127.0.0.1:\(try freeLoopbackPort())/?replicaSet=rs0", "MONGO_TIMEOUT_MS": "500",
            "MONGO_FALLBACK": String(fallback),
        ]
    }

    @Test("MongoDB unreachable: history answers 503 store_unavailable with Retry-After, within the deadline")
    func unreachable() async throws {
        try await GatewayHarness.run(extraEnvironment: try closedPortEnvironment(fallback: false)) { gateway in
            let token = try await token(gateway, "ann")
            let started = ContinuousClock.now
            let reply = try await gateway.request(.get, "/v1/messages?limit=10", token: token)
            let elapsed = ContinuousClock.now - started
            #expect(reply.status == 503, "\(reply.text)")
            #expect(reply.errorCode == "store_unavailable")
            #expect(Int(reply.headers[.retryAfter] ?? "") ?? 0 >= 1)
            #expect(elapsed < .seconds(4), "took \(elapsed)")
            #expect(!reply.text.contains("s3cr3t-pw"))
            let user = try await gateway.request(.get, "/v1/users/usr7yUCHniegrM", token: token)
            #expect(user.status == 503)
            #expect(user.errorCode == "store_unavailable")
            #expect(user.headers[.retryAfter] != nil)
        }
    }

    @Test("MongoDB unreachable with MONGO_FALLBACK=true: history comes through Tinode instead, and is counted")
    func fallback() async throws {
        try await GatewayHarness.run(extraEnvironment: try closedPortEnvironment(fallback: true)) { gateway in
            let token = try await token(gateway, "ben")
            for index in 1...3 {
                let sent = try await gateway.request(.post, "/v1/messages", json: ["text": "hello \(index)"], token: token)
                #expect(sent.status == 201)
            }
            let reply = try await gateway.request(.get, "/v1/messages?limit=10", token: token)
            #expect(reply.status == 200, "\(reply.text)")
            let messages = try #require(reply.json?["messages"] as? [[String: Any]])
            #expect(messages.compactMap { $0["text"] as? String } == ["hello 3", "hello 2", "hello 1"])
            // The counter as the metrics listener renders it (the process's one registry).
            let metrics = String(decoding: Observability.registry.emitToBuffer(), as: UTF8.self)
            let line = metrics.split(separator: "\n").first { $0.hasPrefix("gateway_mongo_fallbacks_total") }
            #expect((line?.split(separator: " ").last).flatMap { Double($0) } ?? 0 >= 1, "\(line ?? "no fallback counter")")
        }
    }

    @Test("with MongoDB configured, pages may hold up to 1000; the fall-back fetches them from Tinode 100 at a time")
    func largePages() async throws {
        try await GatewayHarness.run(extraEnvironment: try closedPortEnvironment(fallback: true)) { gateway in
            // Written before anyone's session is attached: 230 live `data` at once would overflow a
            // session's send queue in the double (as in Tinode) and end its stream.
            let owner = try #require(gateway.double.userID(login: "roomowner"))
            for index in 1...230 {
                try gateway.double.publish(asUser: owner, topic: gateway.room, content: Data("\"m\(index)\"".utf8))
            }
            let token = try await token(gateway, "cai")
            let reply = try await gateway.request(.get, "/v1/messages?limit=250", token: token)
            #expect(reply.status == 200, "\(reply.text)")
            let seqs = (reply.json?["messages"] as? [[String: Any]] ?? []).compactMap { $0["seq"] as? Int }
            try #require(seqs.count == 230)
            #expect(seqs == seqs.sorted(by: >) && Set(seqs).count == 230)
            #expect(reply.json?["next_before"] is NSNull)
            let page = try await gateway.request(.get, "/v1/messages?limit=150", token: token)
            #expect((page.json?["messages"] as? [Any])?.count == 150)
            #expect(page.json?["next_before"] as? Int == seqs[149])
            #expect(try await gateway.request(.get, "/v1/messages?limit=1001", token: token).status == 400)
        }
    }

    @Test("without MONGO_URL: pages stay at most 100, /v1/users answers 501, bad ids 400")
    func notConfigured() async throws {
        try await GatewayHarness.run { gateway in
            let token = try await token(gateway, "dia")
            #expect(try await gateway.request(.get, "/v1/messages?limit=101", token: token).status == 400)
            let missing = try await gateway.request(.get, "/v1/users/usr7yUCHniegrM", token: token)
            #expect(missing.status == 501)
            #expect(missing.errorCode == "directory_unavailable")
            for bad in ["nonsense", "usr", "usr7yUCHniegrMxx", "grp7yUCHniegrM", "usr7yUCH%2FiegrM"] {
                let reply = try await gateway.request(.get, "/v1/users/\(bad)", token: token)
                #expect(reply.status == 400, "\(bad): \(reply.status)")
                #expect(reply.errorCode == "invalid_request")
            }
            #expect(try await gateway.request(.get, "/v1/users/usr7yUCHniegrM").status == 401)
        }
    }

    /// Client contents that exercise the conversion: Go rewrites numbers as float64, sorts keys,
    /// escapes HTML characters.
    static let contents: [String] = [
        #""plain text with <b> & ünïcode 🙂""#,
        #"{"txt":"Hello bold","fmt":[{"at":6,"len":4,"tp":"ST"}],"ent":[]}"#,
        #"{"txt":"link","ent":[{"tp":"LN","data":{"url":"https://example.com/?a=1&b=2"}}],"fmt":[{"len":4,"at":0,"key":0}]}"#,
        #"{"z":1,"a":[0.1,1e-7,1e21,123456789012,-0.5,true,false,null],"m":{"y":2.50,"x":"\u2028"}}"#,
        #"[1,2,3]"#, #"42"#, #"0.1"#, #"true"#, #"null"#,
    ]
    // Not here: an empty object inside content. Tinode's MongoDB adapter sends it back as `[]`
    // (tinode-mongo-schema.md §7), which the MongoDB path reproduces (TinodeJSONTests), while the
    // Tinode double keeps `{}`: it stores client JSON, not BSON.

    @Test("stored content converted from BSON gives exactly the protocol path's message JSON")
    func sameJSONAsProtocol() async throws {
        try await GatewayHarness.run { gateway in
            let token = try await token(gateway, "eve")
            let me = try await gateway.request(.get, "/v1/me", token: token)
            let user = try #require(me.json?["user_id"] as? String)
            for content in Self.contents {
                try gateway.double.publish(asUser: user, topic: gateway.room, content: Data(content.utf8))
            }
            let reply = try await gateway.request(.get, "/v1/messages?limit=\(Self.contents.count)", token: token)
            let protocolItems = try #require(reply.json?["messages"] as? [[String: Any]])
            let stored = gateway.double.messages(inTopic: gateway.room).reversed()
            #expect(protocolItems.count == Self.contents.count)
            for (item, message) in zip(protocolItems, stored) {
                let bson = try #require(ClientJSON.storedContent(message.content))
                let content = try #require(BSONDocument([BSONElement("content", bson)]).json("content"))
                let fromStore = ChatMessage(
                    stored: StoredMessage(
                        seq: message.seq, from: String(message.from.dropFirst(3)),
                        createdAtMilliseconds: Int64((message.timestamp.timeIntervalSince1970 * 1000).rounded()), content: content,
                        head: [:]),
                    topic: gateway.room)
                let expected = try JSONSerialization.data(withJSONObject: item, options: [.sortedKeys])
                let actual = try JSONSerialization.data(
                    withJSONObject: JSONSerialization.jsonObject(with: LiveEventEncoding.message(fromStore)), options: [.sortedKeys])
                #expect(String(decoding: actual, as: UTF8.self) == String(decoding: expected, as: UTF8.self))
            }
        }
    }
}
