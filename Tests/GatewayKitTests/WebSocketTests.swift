import Foundation
import Hummingbird
import HummingbirdWSTesting
import Synchronization
import Testing

@testable import GatewayKit

@Suite("Gateway WebSocket", .timeLimit(.minutes(2)))
struct WebSocketTests {
    @Test("receive others' messages live and send over the same socket")
    func sendAndReceive() async throws {
        try await GatewayHarness.run { gateway in
            let (_, listener) = try await gateway.register("wsreader")
            let (_, writer) = try await gateway.register("wswriter")
            let listenerToken = try #require(listener["access_token"] as? String)
            let writerToken = try #require(writer["access_token"] as? String)
            let frames = Mutex<[String]>([])
            let writerPosts = Task {
                try await Task.sleep(for: .milliseconds(400))
                _ = try await gateway.request(.post, "/v1/messages", json: ["text": "from http"], token: writerToken)
            }
            try await gateway.client.ws("/v1/ws?access_token=\(listenerToken)") { inbound, outbound, _ in
                try await outbound.write(.text(#"{"type":"send","text":"from the socket","id":"ref-1"}"#))
                for try await message in inbound.messages(maxSize: 1 << 16) {
                    guard case .text(let text) = message else { continue }
                    let count = frames.withLock { frames in
                        frames.append(text)
                        return frames.count
                    }
                    if count == 3 { break }  // our echo, our "sent", the writer's message (in any order)
                }
            }
            try await writerPosts.value
            let received = frames.withLock { $0 }.compactMap { text in
                try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
            }
            let sent = try #require(received.first { $0["type"] as? String == "sent" })
            #expect(sent["id"] as? String == "ref-1")
            #expect(sent["topic"] as? String == gateway.room)
            let texts = received.compactMap { ($0["message"] as? [String: Any])?["text"] as? String }
            #expect(Set(texts) == ["from the socket", "from http"])
            #expect(gateway.double.messages(inTopic: gateway.room).count == 2)
        }
    }

    @Test("a bad frame gets an error frame; the socket stays open")
    func badFrame() async throws {
        try await GatewayHarness.run { gateway in
            let (_, user) = try await gateway.register("wsbad")
            let token = try #require(user["access_token"] as? String)
            let answers = Mutex<[String]>([])
            try await gateway.client.ws("/v1/ws?access_token=\(token)") { inbound, outbound, _ in
                try await outbound.write(.text("not json"))
                try await outbound.write(.text(#"{"type":"send","id":"x"}"#))
                for try await message in inbound.messages(maxSize: 1 << 16) {
                    guard case .text(let text) = message else { continue }
                    let count = answers.withLock { answers in
                        answers.append(text)
                        return answers.count
                    }
                    if count == 2 { break }
                }
            }
            let codes = answers.withLock { $0 }.map { text in
                ((try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])?["error"] as? [String: Any])?["code"]
                    as? String
            }
            #expect(codes == ["invalid_request", "invalid_request"])
        }
    }

    @Test("without a valid token there is no upgrade: 401; a plain GET with one: 426")
    func refused() async throws {
        try await GatewayHarness.run { gateway in
            let (_, user) = try await gateway.register("wsplain")
            let token = try #require(user["access_token"] as? String)
            #expect(try await gateway.request(.get, "/v1/ws").status == 401)
            let plain = try await gateway.request(.get, "/v1/ws", token: token)
            #expect(plain.status == 426)
            #expect(plain.errorCode == "websocket_required")
        }
    }
}
