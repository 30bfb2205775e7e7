import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore

/// `GET /v1/ws`: the live feed over a WebSocket, and sending over it.
///
/// Authenticate with `Authorization: Bearer` or, for browsers (which cannot set headers on a
/// WebSocket), `?access_token=`. `?last_event_id=<seq>` replays what came after that seq first.
/// Frames are JSON text:
/// * server to client: `{"type":"message","message":{seq, from, text | content, ts}}`;
/// * client to server: `{"type":"send","text":"..." | "content":{...},"id":"<your ref>"}`, answered
///   with `{"type":"sent","id","seq","topic","ts"}` or `{"type":"error","id","error":{code,message}}`.
extension GatewayAPI {
    /// Decides whether a request becomes a WebSocket: only `/v1/ws` with a valid token. Anything else
    /// goes on to the HTTP routes (where `/v1/ws` answers 401 or 426).
    func webSocketUpgrade(_ request: HTTPRequest) async -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>> {
        guard let path = request.path, let components = URLComponents(string: path), components.path == "/v1/ws" else {
            return .dontUpgrade
        }
        let query = Dictionary(
            (components.queryItems ?? []).compactMap { item in item.value.map { (item.name, $0) } }, uniquingKeysWith: { first, _ in first }
        )
        guard let caller = try? await authenticate(authorization: request.headerFields[.authorization], bearerToken: query["access_token"])
        else { return .dontUpgrade }
        let resumeAfter = query["last_event_id"].flatMap(Int.init)
        return .upgrade([:]) { inbound, outbound, _ in
            try await self.serveWebSocket(caller: caller, resumeAfter: resumeAfter, inbound: inbound, outbound: outbound)
        }
    }

    /// The HTTP answer for `/v1/ws` requests that were not upgraded.
    func webSocketRefused(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        _ = try await authenticate(
            authorization: request.headers[.authorization], bearerToken: request.uri.queryParameters["access_token"].map(String.init))
        throw APIError(.upgradeRequired, "websocket_required", "Connect with a WebSocket client.")
    }

    private func serveWebSocket(
        caller: Caller, resumeAfter: Int?, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter
    ) async throws {
        let session = try await session(for: caller)
        let subscription = try await tinodeCall { try await session.subscribeLive() }
        let room = await pool.roomTopic
        var backlog: [ChatMessage] = []
        if let resumeAfter { backlog = try await missedMessages(after: resumeAfter, session: session) }
        let replay = backlog
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                var lastSent = resumeAfter
                for message in replay {
                    try await outbound.write(.text(Self.frame(["type": "message", "message": Self.messageJSON(message)])))
                    lastSent = message.seq
                }
                for await event in subscription.events {
                    guard case .message(let message) = event, message.topic == room else { continue }
                    if let lastSent, message.seq <= lastSent { continue }
                    try await outbound.write(.text(Self.frame(["type": "message", "message": Self.messageJSON(message)])))
                    lastSent = message.seq
                }
                // The feed ended (cut off or session closed): tell the client to reconnect.
                try await outbound.close(.goingAway, reason: "live feed ended; reconnect with last_event_id")
            }
            group.addTask {
                for try await frame in inbound.messages(maxSize: self.settings.maxBodyBytes) {
                    guard case .text(let text) = frame else {
                        try await outbound.write(.text(Self.errorFrame(id: nil, APIError.badRequest("Send JSON text frames."))))
                        continue
                    }
                    try await outbound.write(.text(await self.handleFrame(text, caller: caller, session: session)))
                }
            }
            // Either side ending ends the connection.
            _ = try await group.next()
            group.cancelAll()
        }
    }

    /// One client frame: a `send`, answered with `sent` or `error`.
    private func handleFrame(_ text: String, caller: Caller, session: TinodeSession) async -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            return Self.errorFrame(id: nil, APIError.badRequest("A frame must be a JSON object."))
        }
        let id = object["id"] as? String
        guard object["type"] as? String == "send" else {
            return Self.errorFrame(id: id, APIError.badRequest("Unknown frame type; send {\"type\":\"send\", ...}."))
        }
        do {
            let (content, head) = try messageContent(JSONBody(fields: object))
            try await limit("send:" + caller.userID, settings.sends)
            let receipt = try await tinodeCall { try await session.publish(content: content, head: head) }
            return Self.frame([
                "type": "sent", "id": orNull(id), "seq": receipt.seq, "topic": receipt.topic, "ts": timestampText(receipt.timestamp),
            ])
        } catch let error as APIError {
            return Self.errorFrame(id: id, error)
        } catch {
            return Self.errorFrame(id: id, APIError(.internalServerError, "internal", "The message could not be sent."))
        }
    }

    private static func frame(_ object: [String: Any]) -> String {
        String(decoding: (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8), as: UTF8.self)
    }

    private static func errorFrame(id: String?, _ error: APIError) -> String {
        frame(["type": "error", "id": orNull(id), "error": ["code": error.code, "message": error.message]])
    }
}
