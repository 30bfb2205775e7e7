import Foundation
import Hummingbird
import Testing

@testable import GatewayKit

/// An `Idempotency-Key` belongs to one message: sent again with it, the first answer; with another
/// message, 422 `idempotency_key_reused`, never the first message's receipt (which would tell the
/// client a message was sent that never was).
@Suite("Idempotency-Key reused with another message", .timeLimit(.minutes(2)))
struct IdempotencyReuseTests {
    @Test("same key and message: the first answer; same key, other message: 422 and nothing posted", arguments: [true, false])
    func reusedKey(valkey: Bool) async throws {
        try await GatewayHarness.run(valkey: valkey) { gateway in
            let (_, tokens) = try await gateway.register("keeper")
            let token = try #require(tokens["access_token"] as? String)
            let key: HTTPFields = [.init("Idempotency-Key")!: UUID().uuidString]
            var json = key
            json[.contentType] = "application/json"
            let first = try await gateway.request(.post, "/v1/messages", json: ["text": "pay 10"], token: token, headers: key)
            #expect(first.status == 201, "\(first.text)")
            // The same message, its JSON spaced differently: the same request.
            let again = try await gateway.request(.post, "/v1/messages", raw: #"{ "text" :  "pay 10" }"#, token: token, headers: json)
            #expect(again.status == 201)
            #expect(again.text == first.text)

            let other = try await gateway.request(.post, "/v1/messages", json: ["text": "pay 1000"], token: token, headers: key)
            #expect(other.status == 422, "\(other.text)")
            #expect(other.errorCode == "idempotency_key_reused")
            let drafty = try await gateway.request(
                .post, "/v1/messages", json: ["content": ["txt": "pay 10"]], token: token, headers: key)
            #expect(drafty.errorCode == "idempotency_key_reused")
            #expect(gateway.double.messages(inTopic: gateway.room).count == 1)
            // The first message's key still answers it.
            let third = try await gateway.request(.post, "/v1/messages", json: ["text": "pay 10"], token: token, headers: key)
            #expect(third.text == first.text)
        }
    }

    @Test("after an attempt whose outcome is unknown, another message with its key is refused, not matched in the history")
    func reusedAfterUncertainSend() async throws {
        try await GatewayHarness.run { gateway in
            let (_, tokens) = try await gateway.register("unsure")
            let token = try #require(tokens["access_token"] as? String)
            let userID = try #require(tokens["user_id"] as? String)
            #expect(try await gateway.request(.post, "/v1/messages", json: ["text": "warm-up"], token: token).status == 201)
            let key: HTTPFields = [.init("Idempotency-Key")!: UUID().uuidString]
            // Tinode stores the message, then dies before its answer goes out.
            gateway.double.holdReplies(user: userID)
            async let first = gateway.request(.post, "/v1/messages", json: ["text": "the first"], token: token, headers: key)
            #expect(await eventually { gateway.double.messages(inTopic: gateway.room).count == 2 })
            await gateway.double.stop()
            #expect(try await first.status == 503)
            gateway.double.releaseReplies(user: userID)
            try await gateway.double.restart()

            var other = try await gateway.request(.post, "/v1/messages", json: ["text": "another"], token: token, headers: key)
            for _ in 0..<50 where other.status == 503 {
                try await Task.sleep(for: .milliseconds(200))
                other = try await gateway.request(.post, "/v1/messages", json: ["text": "another"], token: token, headers: key)
            }
            #expect(other.status == 422, "\(other.text)")
            #expect(other.errorCode == "idempotency_key_reused")
            #expect(gateway.double.messages(inTopic: gateway.room).count == 2)
            // The message the key was first sent with is still found, once.
            let retry = try await gateway.request(.post, "/v1/messages", json: ["text": "the first"], token: token, headers: key)
            #expect(retry.status == 201, "\(retry.text)")
            #expect(retry.json?["seq"] as? Int == gateway.double.messages(inTopic: gateway.room).last?.seq)
            #expect(gateway.double.messages(inTopic: gateway.room).count == 2)
        }
    }
}
