import Foundation
import Hummingbird
import SidecarCore

extension GatewayAPI {
    /// `POST /v1/messages {"text"} | {"content": <Drafty>}` -> 201 `{"seq","topic","ts"}`, sent as the
    /// caller to the room. With `Idempotency-Key`, a retry gets the first answer instead of a second
    /// message.
    func send(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let caller = try await authenticate(request)
        let body = try await JSONBody.read(request, maxBytes: settings.maxBodyBytes)
        let (content, head) = try messageContent(body)
        let key = request.headers[.idempotencyKey]?.trimmingCharacters(in: .whitespaces)
        if let key {
            guard !key.isEmpty, key.utf8.count <= 200 else { throw APIError.badRequest("Idempotency-Key must be 1 to 200 characters.") }
            let claim: IdempotencyClaim
            do {
                claim = try await idempotency.claim(scope: caller.userID, key: key, claimTTL: .seconds(60))
            } catch {
                throw storeFailure(error)
            }
            switch claim {
            case .completed(let answer):
                return Response(
                    status: .created, headers: [.contentType: "application/json"], body: .init(byteBuffer: .init(bytes: answer)))
            case .inProgress:
                throw APIError(.conflict, "idempotency_key_in_use", "A request with this Idempotency-Key is in progress.")
            case .claimed:
                break
            }
        }
        let receipt: PublishReceipt
        do {
            try await limit("send:" + caller.userID, settings.sends)
            let session = try await session(for: caller)
            receipt = try await session.publish(content: content, head: head)
        } catch {
            // Nothing was stored, so a retry with the same key must be free to try again; except after
            // a timeout, which may have stored the message: the key then stays claimed until the claim
            // expires, so that a quick retry does not post it twice.
            if let key, (error as? TinodeSessionError) != .timeout {
                try? await idempotency.release(scope: caller.userID, key: key)
            }
            if let failure = error as? TinodeSessionError { throw APIError.tinode(failure) }
            throw error
        }
        let answer = try JSONSerialization.data(
            withJSONObject: ["seq": receipt.seq, "topic": receipt.topic, "ts": timestampText(receipt.timestamp)], options: [.sortedKeys])
        if let key {
            do {
                try await idempotency.complete(scope: caller.userID, key: key, answer: answer, ttl: settings.idempotencyTTL)
            } catch {
                logger.warning("idempotency answer not stored", metadata: ["error": "\(error)"])
            }
        }
        return Response(status: .created, headers: [.contentType: "application/json"], body: .init(byteBuffer: .init(bytes: answer)))
    }

    /// `GET /v1/messages?before=<seq>&limit=<n>` -> a page, newest first.
    func history(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let caller = try await authenticate(request)
        let query = request.uri.queryParameters
        var before: Int?
        if let text = query["before"] {
            guard let value = Int(text), value >= 1 else { throw APIError.badRequest("`before` must be a positive seq.") }
            before = value
        }
        var limit = 50
        if let text = query["limit"] {
            guard let value = Int(text), (1...100).contains(value) else { throw APIError.badRequest("`limit` must be 1 to 100.") }
            limit = value
        }
        let session = try await session(for: caller)
        let page = try await tinodeCall { try await session.history(before: before, limit: limit) }
        let oldest = page.messages.last?.seq
        let nextBefore: Any = (page.messages.count == limit && (oldest ?? 0) > 1) ? oldest! : NSNull()
        return try jsonResponse(["messages": page.messages.map(Self.messageJSON), "next_before": nextBefore])
    }

    /// A message as the API shows it: `text` for plain text (a JSON string in Tinode), `content` for
    /// anything else (Drafty).
    static func messageJSON(_ message: ChatMessage) -> [String: Any] {
        var json: [String: Any] = ["seq": message.seq, "from": message.from, "ts": timestampText(message.timestamp)]
        let value = try? JSONSerialization.jsonObject(with: message.content, options: [.fragmentsAllowed])
        if let text = value as? String {
            json["text"] = text
        } else {
            json["content"] = value ?? NSNull()
        }
        return json
    }

    /// Tinode content for `{"text"}` (a JSON string) or `{"content"}` (Drafty, with head `mime`).
    func messageContent(_ body: JSONBody) throws -> (Data, [String: Data]) {
        if let text = try body.optionalString("text") {
            guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw APIError.badRequest("`text` is empty.") }
            guard text.utf8.count <= settings.maxMessageBytes else {
                throw APIError(.contentTooLarge, "message_too_large", "`text` is longer than \(settings.maxMessageBytes) bytes.")
            }
            return (try JSONSerialization.data(withJSONObject: text, options: [.fragmentsAllowed]), [:])
        }
        if let drafty = try body.optionalObject("content") {
            let data = try JSONSerialization.data(withJSONObject: drafty, options: [.sortedKeys])
            guard data.count <= settings.maxMessageBytes else {
                throw APIError(.contentTooLarge, "message_too_large", "`content` is larger than \(settings.maxMessageBytes) bytes.")
            }
            return (data, ["mime": Data("\"text/x-drafty\"".utf8)])
        }
        throw APIError.badRequest("Send `text` (a string) or `content` (a Drafty object).")
    }
}
