import Foundation
import Hummingbird
import HummingbirdWSTesting
import Synchronization
import Testing

@testable import GatewayKit

/// `GATEWAY_MAX_MESSAGE_BYTES` holds for the content as it goes to Tinode, escapes included: text
/// that is short as typed but long as JSON must not reach Tinode, where it would exceed
/// `PLUGIN_MAX_PUB_BYTES` or Tinode's message limit (which ends the user's whole stream).
@Suite("Message size as sent to Tinode", .timeLimit(.minutes(2)))
struct MessageSizeTests {
    static let limit = 1000
    /// 400 control characters: 400 bytes as typed, 2,402 as a JSON string (`"\u0001..."`).
    static let controls = String(repeating: "\u{1}", count: 400)

    @Test("text of control characters within the limit as typed but not as JSON: 413 message_too_large, nothing sent")
    func controlCharacters() async throws {
        try await GatewayHarness.run(extraEnvironment: ["GATEWAY_MAX_MESSAGE_BYTES": "\(Self.limit)"]) { gateway in
            let (_, user) = try await gateway.register("sizer")
            let token = try #require(user["access_token"] as? String)
            let refused = try await gateway.request(.post, "/v1/messages", json: ["text": Self.controls], token: token)
            #expect(refused.status == 413, "\(refused.text)")
            #expect(refused.errorCode == "message_too_large")
            // `<` is one byte as we send it and six (`\u003c`) as Tinode passes it to AuthPlugin.
            let angles = try await gateway.request(.post, "/v1/messages", json: ["text": String(repeating: "<", count: 400)], token: token)
            #expect(angles.errorCode == "message_too_large")
            let drafty: [String: Any] = ["txt": Self.controls, "fmt": [["at": 0, "len": 1, "tp": "ST"]]]
            let content = try await gateway.request(.post, "/v1/messages", json: ["content": drafty], token: token)
            #expect(content.errorCode == "message_too_large")
            #expect(gateway.double.messages(inTopic: gateway.room).isEmpty)

            // Text as long, but plain, still goes through: the limit moved, not the feature.
            let plain = try await gateway.request(.post, "/v1/messages", json: ["text": String(repeating: "a", count: 900)], token: token)
            #expect(plain.status == 201, "\(plain.text)")
        }
    }

    @Test("the same over the WebSocket: an error frame message_too_large")
    func webSocket() async throws {
        try await GatewayHarness.run(extraEnvironment: ["GATEWAY_MAX_MESSAGE_BYTES": "\(Self.limit)"]) { gateway in
            let (_, user) = try await gateway.register("wssizer")
            let token = try #require(user["access_token"] as? String)
            let frame = String(
                decoding: try JSONSerialization.data(withJSONObject: ["type": "send", "text": Self.controls, "id": "big"]), as: UTF8.self)
            let answerText = Mutex<String?>(nil)
            try await gateway.client.ws("/v1/ws?access_token=\(token)") { inbound, outbound, _ in
                try await outbound.write(.text(frame))
                for try await message in inbound.messages(maxSize: 1 << 16) {
                    guard case .text(let text) = message, text.contains(#""id":"big""#) else { continue }
                    answerText.withLock { $0 = text }
                    break
                }
            }
            let text = try #require(answerText.withLock { $0 })
            let answer = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            #expect(answer["type"] as? String == "error")
            #expect(answer["id"] as? String == "big")
            #expect((answer["error"] as? [String: Any])?["code"] as? String == "message_too_large")
            #expect(gateway.double.messages(inTopic: gateway.room).isEmpty)
        }
    }
}

@Suite("Content size as Tinode sees it")
struct TinodeContentSizeTests {
    func size(_ json: String) -> Int { TinodeContentSize.measure(Array(json.utf8)) }

    @Test("plain JSON counts as written")
    func plain() {
        #expect(size(#""hello""#) == 7)
        let drafty = #"{"at":0,"len":12,"ok":true,"no":false,"x":null,"f":-1.5,"s":"a \"q\" \/ \u00e9"}"#
        #expect(size(drafty) == drafty.utf8.count)
    }

    @Test("what Go's encoder writes longer counts as Go writes it")
    func goReencoding() {
        #expect(size(#""<>&""#) == 2 + 18)
        #expect(size("\"\u{2028}\u{2029}\"") == 2 + 12)
        #expect(size(#""\b\f\n""#) == 2 + 6 + 6 + 2)
        // An escaped backslash before `b` is not a `\b`.
        #expect(size(#""\\b""#) == 5)
        // Numbers with an exponent may be written out by Go (1e20 is 21 digits); the `e` of `true` is no exponent.
        #expect(size("[1e20]") == 2 + TinodeContentSize.longestGoNumber)
        #expect(size("[true]") == 6)
    }
}
