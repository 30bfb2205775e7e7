import Foundation
import MongoReader
import SidecarCore

/// The chat room, without HTTP: sending (with idempotency keys), history pages and the user
/// directory, for an authenticated ``Caller``. `GatewayHandlers` translates the contract's types;
/// the live streams (SSE, WebSocket) use the same calls; tests drive them directly.
///
/// Every method throws ``APIError`` for an answer the client should get, anything else for an
/// internal failure.
protocol Messaging: Sendable {
    /// Sends `message` as the caller; with `idempotencyKey`, a retry answers the first receipt.
    func send(_ message: OutgoingMessage, idempotencyKey: String?, as caller: Caller) async throws -> PublishReceipt
    /// A page of the room's history, newest first: `limit` messages (default 50) before `before`.
    func history(before: Int?, limit: Int?, for caller: Caller) async throws -> MessagePage
    /// A user who shares the room with the caller (needs MongoDB).
    func directoryEntry(of userID: String, for caller: Caller) async throws -> DirectoryEntry
}

/// A message to send: plain text, or a Drafty document (the JSON object as the client sent it).
enum OutgoingMessage: Sendable, Equatable {
    case text(String)
    case drafty(Data)
}

/// A page of history and where the next (older) one starts; nil when this one reaches the start.
struct MessagePage: Sendable, Equatable {
    var messages: [ChatMessage]
    var nextBefore: Int?
}

extension OutgoingMessage {
    /// The message of a JSON object's fields (a WebSocket `send` frame), read as the contract's
    /// `NewMessage`: `text` (a string), else `content` (a Drafty object); a null field counts as absent.
    init(fields: [String: Any]) throws(APIError) {
        if let value = fields["text"], !(value is NSNull) {
            guard let text = value as? String else { throw APIError.badRequest("Field `text` must be a string.") }
            self = .text(text)
            return
        }
        if let value = fields["content"], !(value is NSNull) {
            guard let object = value as? [String: Any],
                let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            else { throw APIError.badRequest("Field `content` must be a JSON object.") }
            self = .drafty(data)
            return
        }
        throw Self.neither
    }

    /// Neither `text` nor `content`.
    static let neither = APIError.badRequest("Send `text` (a string) or `content` (a Drafty object).")
}
