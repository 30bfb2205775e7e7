import Foundation
import GatewayContract
import OpenAPIRuntime

/// The live streams' payloads as the contract's types (`Message`, `ReplayReset`, `StreamRevoked` of
/// `openapi/openapi.yaml`), written by one encoder with the generated routes' rules (sorted keys,
/// millisecond timestamps), so that a message reads the same in a history page, an SSE event and a
/// WebSocket frame.
enum LiveEventEncoding {
    /// A message's JSON (the `data` of an SSE `message` event).
    static func message(_ message: ChatMessage) -> Data {
        encode(GatewayHandlers.message(message))
    }

    /// A `reset`'s JSON.
    static func reset(_ reset: ReplayReset) -> Data {
        encode(contractReset(reset))
    }

    /// A `revoked` event's JSON.
    static func revoked(_ reason: TokenEnd) -> Data {
        encode(Components.Schemas.StreamRevoked(reason: reason == .expired ? .tokenExpired : .tokenRevoked))
    }

    /// A WebSocket frame of an item of the stream: `{"type":"message","message":...}` or the
    /// reset's fields with `"type":"reset"`.
    static func webSocketFrame(_ item: RoomStream.Item) -> Data {
        switch item {
        case .message(let message): return encode(MessageFrame(message: GatewayHandlers.message(message)))
        case .reset(let reset): return encode(ResetFrame(reset: contractReset(reset)))
        case .keepAlive: return encode(["type": "keep_alive"])
        }
    }

    private struct MessageFrame: Encodable {
        let type = "message"
        let message: Components.Schemas.Message
    }

    private struct ResetFrame: Encodable {
        let reset: Components.Schemas.ReplayReset

        func encode(to encoder: any Encoder) throws {
            try reset.encode(to: encoder)
            var container = encoder.container(keyedBy: TypeKey.self)
            try container.encode("reset", forKey: .type)
        }

        private enum TypeKey: String, CodingKey { case type }
    }

    private static func contractReset(_ reset: ReplayReset) -> Components.Schemas.ReplayReset {
        .init(fromSeq: reset.fromSeq, lastEventId: reset.lastEventID, latestSeq: reset.latestSeq, reason: .replayLimit)
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Timestamps.text(date))
        }
        return encoder
    }()

    /// Encoding these values cannot fail (strings, numbers, JSON read from Tinode); `{}` if it did.
    private static func encode(_ value: some Encodable) -> Data {
        (try? encoder.encode(value)) ?? Data("{}".utf8)
    }
}
