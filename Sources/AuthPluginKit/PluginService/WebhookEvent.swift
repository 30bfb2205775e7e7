import Foundation
import TinodeProto

/// One plugin event as the JSON body of a webhook.
///
/// ```json
/// {"id": "4f1c...", "type": "message", "action": "create", "received_at": 1764400000123,
///  "data": {"topic": "grp...", "from_user_id": "usr...", "seq_id": 7, "timestamp": 1764400000100,
///           "head": {"mime": "text/x-drafty"}, "content": "hello"}}
/// ```
///
/// `id` is random (32 hex digits) and stays the same across retries, so a receiver can discard
/// repeats; `received_at` is when AuthPlugin got the event, in milliseconds since the epoch, like
/// every time in `data`. Tinode's JSON fields (`public`, `private`, `trusted`, `content`, `head`
/// values) are embedded as JSON; a value that is not valid JSON is left out. The `data` fields per
/// type are listed in the README ("Plugin service").
struct WebhookEvent: Sendable {
    let id: String
    let type: String
    let action: String
    /// The encoded body, signed as is.
    let body: Data

    init(type: String, action: Pbx_Crud, data: [String: Any], receivedAt: Date = Date()) {
        var generator = SystemRandomNumberGenerator()
        let id = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
        let actionName =
            switch action {
            case .create: "create"
            case .update: "update"
            case .delete: "delete"
            case .UNRECOGNIZED(let value): "unknown_\(value)"
            }
        let object: [String: Any] = [
            "id": id, "type": type, "action": actionName,
            "received_at": Int64(receivedAt.timeIntervalSince1970 * 1000), "data": data,
        ]
        self.id = id
        self.type = type
        self.action = actionName
        // Only strings, numbers, booleans, arrays and objects from JSONSerialization are in `object`.
        self.body = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
    }

    static func account(_ event: Pbx_AccountEvent) -> WebhookEvent {
        var data: [String: Any] = [
            "user_id": event.userID, "tags": event.tags,
            "default_acs": ["auth": event.defaultAcs.auth, "anon": event.defaultAcs.anon],
        ]
        data["public"] = json(event.public)
        return WebhookEvent(type: "account", action: event.action, data: data)
    }

    static func topic(_ event: Pbx_TopicEvent) -> WebhookEvent {
        let desc = event.desc
        var described: [String: Any] = [
            "created_at": desc.createdAt, "updated_at": desc.updatedAt, "touched_at": desc.touchedAt,
            "seq_id": desc.seqID, "del_id": desc.delID, "is_chan": desc.isChan,
            "default_acs": ["auth": desc.defacs.auth, "anon": desc.defacs.anon],
        ]
        described["public"] = json(desc.public)
        described["trusted"] = json(desc.trusted)
        if !desc.state.isEmpty { described["state"] = desc.state }
        return WebhookEvent(type: "topic", action: event.action, data: ["topic": event.name, "desc": described])
    }

    static func subscription(_ event: Pbx_SubscriptionEvent) -> WebhookEvent {
        var data: [String: Any] = [
            "topic": event.topic, "user_id": event.userID, "del_id": event.delID, "read_id": event.readID,
            "recv_id": event.recvID, "mode": ["want": event.mode.want, "given": event.mode.given],
        ]
        data["private"] = json(event.private)
        return WebhookEvent(type: "subscription", action: event.action, data: data)
    }

    static func message(_ event: Pbx_MessageEvent) -> WebhookEvent {
        let message = event.msg
        var head: [String: Any] = [:]
        for (key, value) in message.head {
            if let decoded = json(value) { head[key] = decoded }
        }
        var data: [String: Any] = [
            "topic": message.topic, "from_user_id": message.fromUserID, "seq_id": message.seqID,
            "timestamp": message.timestamp, "head": head,
        ]
        if message.deletedAt != 0 { data["deleted_at"] = message.deletedAt }
        data["content"] = json(message.content)
        return WebhookEvent(type: "message", action: event.action, data: data)
    }

    /// Tinode's JSON bytes as a JSON value; nil when empty or not JSON.
    static func json(_ bytes: Data) -> Any? {
        guard !bytes.isEmpty else { return nil }
        return try? JSONSerialization.jsonObject(with: bytes, options: [.fragmentsAllowed])
    }
}
