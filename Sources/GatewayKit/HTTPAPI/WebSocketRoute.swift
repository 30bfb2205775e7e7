import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore

/// `GET /v1/ws`: the live feed over a WebSocket, and sending over it.
///
/// Authenticate with `Authorization: Bearer` or, for browsers (which cannot set headers on a
/// WebSocket), `?access_token=`. `?last_event_id=<seq>` replays what came after that seq first (at
/// most `maxReplay` messages, after a `reset` frame when more were missed), as SSE does.
/// The socket closes with code 4001 (reason `token_revoked` or `token_expired`) when the token
/// it was opened with stops working: get a new one before reconnecting.
/// Frames are JSON text:
/// * server to client: `{"type":"message","message":{seq, from, text | content, ts}}`;
/// * client to server: `{"type":"send","text":"..." | "content":{...},"id":"<your ref>"}`, answered
///   with `{"type":"sent","id","seq","topic","ts"}` or `{"type":"error","id","error":{code,message}}`.
extension GatewayAPI {
    /// Decides whether a request becomes a WebSocket: only `/v1/ws` with a valid token and a valid
    /// `last_event_id`. A user who holds the most live streams gets a WebSocket that closes at once
    /// (1008, reason `too_many_streams`). Anything else goes on to the HTTP routes (where `/v1/ws`
    /// answers 401, 400, 429 or 426 to a plain GET; the WebSocket library answers a refused upgrade
    /// with a bare 400).
    func webSocketUpgrade(_ request: HTTPRequest) async -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>> {
        guard let path = request.path, let components = URLComponents(string: path), components.path == "/v1/ws" else {
            return .dontUpgrade
        }
        let query = Dictionary(
            (components.queryItems ?? []).compactMap { item in item.value.map { (item.name, $0) } }, uniquingKeysWith: { first, _ in first }
        )
        guard let caller = try? await authenticate(authorization: request.headerFields[.authorization], bearerToken: query["access_token"])
        else { return .dontUpgrade }
        let resumeAfter: Int?
        do { resumeAfter = try LastEventID.parse(query["last_event_id"], field: "last_event_id") } catch { return .dontUpgrade }
        guard let lease = liveStreams.acquire(user: caller.userID, limit: settings.maxStreamsPerUser) else {
            // A refused upgrade is answered by the WebSocket library with a bare 400, which a browser
            // does not even show: accept, and close at once with 1008 and the reason instead.
            return .upgrade([:]) { _, outbound, _ in
                try await outbound.close(.policyViolation, reason: "too_many_streams")
            }
        }
        return .upgrade([:]) { inbound, outbound, _ in
            try await self.serveWebSocket(caller: caller, resumeAfter: resumeAfter, lease: lease, inbound: inbound, outbound: outbound)
        }
    }

    /// The HTTP answer for `/v1/ws` requests that were not upgraded: 401 without a valid token, 400
    /// for a bad `last_event_id`, 429 `too_many_streams` when the user holds the most live streams,
    /// 426 otherwise (a plain GET).
    func webSocketRefused(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let caller = try await authenticate(
            authorization: request.headers[.authorization], bearerToken: request.uri.queryParameters["access_token"].map(String.init))
        _ = try LastEventID.parse(request.uri.queryParameters["last_event_id"].map(String.init), field: "last_event_id")
        if liveStreams.count(user: caller.userID) >= settings.maxStreamsPerUser {
            throw Self.tooManyStreams(limit: settings.maxStreamsPerUser)
        }
        throw APIError(.upgradeRequired, "websocket_required", "Connect with a WebSocket client.")
    }

    private func serveWebSocket(
        caller: Caller, resumeAfter: Int?, lease: StreamLease, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter
    ) async throws {
        let stream = try await openRoomStream(for: caller, resumeAfter: resumeAfter, keepAlive: nil, lease: lease)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                let ending = await stream.run { item in
                    try await outbound.write(.text(String(decoding: LiveEventEncoding.webSocketFrame(item), as: UTF8.self)))
                }
                switch ending {
                case .tokenEnded(let reason):
                    // 4001: get a new token (refresh, or log in) before reconnecting.
                    try await outbound.close(.unknown(4001), reason: reason.rawValue)
                case .feedEnded, .shutdown, .replayFailed:
                    // Tell the client to reconnect.
                    try await outbound.close(.goingAway, reason: "live feed ended; reconnect with last_event_id")
                case .cutOff, .clientGone:
                    // Nothing more can be written to a client that stopped reading: the connection ends.
                    break
                }
            }
            group.addTask {
                for try await frame in inbound.messages(maxSize: self.settings.maxBodyBytes) {
                    guard case .text(let text) = frame else {
                        try await outbound.write(.text(Self.errorFrame(id: nil, APIError.badRequest("Send JSON text frames."))))
                        continue
                    }
                    try await outbound.write(.text(await self.handleFrame(text, caller: caller)))
                }
            }
            // Either side ending ends the connection.
            _ = try await group.next()
            group.cancelAll()
        }
    }

    /// One client frame: a `send`, answered with `sent` or `error`.
    private func handleFrame(_ text: String, caller: Caller) async -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            return Self.errorFrame(id: nil, APIError.badRequest("A frame must be a JSON object."))
        }
        let id = object["id"] as? String
        guard object["type"] as? String == "send" else {
            return Self.errorFrame(id: id, APIError.badRequest("Unknown frame type; send {\"type\":\"send\", ...}."))
        }
        do {
            let receipt = try await send(try OutgoingMessage(fields: object), idempotencyKey: nil, as: caller)
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
