import Foundation
import MongoReader
import SidecarCore

extension GatewayAPI: Messaging {
    /// `POST /v1/messages {"text"} | {"content": <Drafty>}` -> 201 `{"seq","topic","ts"}`, sent as the
    /// caller to the room. With `Idempotency-Key`, a retry gets the first answer instead of a second
    /// message; the same key with another message is refused (422 `idempotency_key_reused`). The
    /// WebSocket's `send` frames come through here too (without a key).
    func send(_ message: OutgoingMessage, idempotencyKey: String?, as caller: Caller) async throws -> PublishReceipt {
        var (content, head) = try messageContent(message)
        // The message as Tinode would get it, before the marker below is added to its head.
        let fingerprint = IdempotencyFingerprint.of(scope: caller.userID, parts: [content, head["mime"] ?? Data()])
        let key = idempotencyKey?.trimmingCharacters(in: .whitespaces)
        var uncertain: UncertainAttempt?
        if let key {
            guard !key.isEmpty, key.utf8.count <= 200 else { throw APIError.badRequest("Idempotency-Key must be 1 to 200 characters.") }
            let claim: IdempotencyClaim
            do {
                // The send's token is taken with the claim (one round trip with Valkey); a retry
                // answered from the store costs none.
                claim = try await idempotency.claim(
                    scope: caller.userID, key: key, fingerprint: fingerprint, claimTTL: .seconds(60),
                    charging: RateCharge(limiter: rateLimiter, key: sendBucket(caller), limit: settings.sends))
            } catch {
                throw storeFailure(error)
            }
            switch claim {
            case .completed(let answer):
                guard let receipt = Self.storedReceipt(answer) else {
                    logger.error("a stored idempotent answer is unreadable", metadata: ["user": "\(caller.userID)"])
                    throw APIError.unavailable("The idempotency store")
                }
                return receipt
            case .inProgress:
                throw APIError(.conflict, "idempotency_key_in_use", "A request with this Idempotency-Key is in progress.")
            case .reused:
                throw Self.idempotencyKeyReused
            case .limited(let retryAfter):
                throw APIError.rateLimited(retryAfter: retryAfter)
            case .claimed(let earlier):
                uncertain = earlier
                head[SendMarker.headKey] = SendMarker.headValue(scope: caller.userID, key: key)
            }
        }
        let attemptStarted = Date()
        var publishing = false
        let receipt: PublishReceipt
        do {
            if key == nil { try await limit(sendBucket(caller), settings.sends) }
            let session = try await session(for: caller)
            if let key, let uncertain,
                let earlier = try await earlierSend(key: key, fingerprint: fingerprint, attempt: uncertain, by: caller.userID, on: session)
            {
                receipt = earlier
            } else {
                publishing = true
                receipt = try await session.publish(content: content, head: head)
            }
        } catch {
            if let key {
                await giveUp(key: key, fingerprint: fingerprint, of: caller, after: error, publishing: publishing, since: attemptStarted)
            }
            if let failure = error as? TinodeSessionError { throw APIError.tinode(failure) }
            throw error
        }
        if let key {
            do {
                try await idempotency.complete(
                    scope: caller.userID, key: key, fingerprint: fingerprint, answer: Self.sendAnswer(receipt), ttl: settings.idempotencyTTL
                )
            } catch {
                logger.warning("idempotency answer not stored", metadata: ["error": "\(error)"])
            }
        }
        return receipt
    }

    /// The caller's bucket of sends (`GATEWAY_SEND_BURST`, `GATEWAY_SENDS_PER_SECOND`).
    private func sendBucket(_ caller: Caller) -> String { "send:" + caller.userID }

    /// After a failed attempt with an `Idempotency-Key`: when the `pub` may have reached Tinode without
    /// its answer coming back (timeout, broken stream, closed session), the attempt is recorded as
    /// uncertain, so that the next one first looks for the message in the history (by its marker)
    /// instead of posting it twice. After a timeout the claim is also kept until it expires, because
    /// Tinode may still store the message after we stopped waiting. Otherwise nothing was stored and
    /// the key is free at once.
    private func giveUp(
        key: String, fingerprint: String, of caller: Caller, after error: any Error, publishing: Bool, since started: Date
    ) async {
        let failure = error as? TinodeSessionError
        let uncertain = publishing && failure?.outcomeUnknown == true
        if uncertain {
            do {
                try await idempotency.markUncertain(
                    scope: caller.userID, key: key, fingerprint: fingerprint, since: started, ttl: settings.idempotencyTTL)
            } catch {
                // Unrecorded, a retry could post twice: keep the claim, so retries wait for its expiry.
                logger.warning("uncertain send not recorded; the Idempotency-Key stays claimed", metadata: ["error": "\(error)"])
                return
            }
            if failure == .timeout { return }
        }
        try? await idempotency.release(scope: caller.userID, key: key)
    }

    /// The receipt of the earlier uncertain `attempt` with `key` (read with the claim), if it did
    /// reach Tinode: found by its marker in the room's history (newest first, back to a little
    /// before that attempt); nil when its message is not there. An uncertain attempt of another
    /// message with the same key is refused (422), as a completed one is.
    private func earlierSend(
        key: String, fingerprint: String, attempt: UncertainAttempt, by userID: String, on session: TinodeSession
    ) async throws -> PublishReceipt? {
        guard attempt.matches(fingerprint) else { throw Self.idempotencyKeyReused }
        let since = attempt.since
        let marker = SendMarker.headValue(scope: userID, key: key)
        // Tinode stamps the message when it stores it, after the attempt started; the margin covers a
        // clock difference between the two hosts.
        let oldestRelevant = since.addingTimeInterval(-SendMarker.clockMargin)
        var before: Int?
        for _ in 0..<SendMarker.maximumPages {
            let page = try await session.history(before: before, limit: SendMarker.pageSize)
            if let match = page.messages.first(where: { $0.from == userID && SendMarker.matches($0.head[SendMarker.headKey], marker) }) {
                logger.info("an uncertain earlier send was found in the history", metadata: ["seq": "\(match.seq)"])
                return PublishReceipt(topic: match.topic, seq: match.seq, timestamp: match.timestamp)
            }
            let isFullPage = page.messages.count == SendMarker.pageSize
            guard isFullPage, let oldest = page.messages.last, oldest.seq > 1, oldest.timestamp >= oldestRelevant else { return nil }
            before = oldest.seq
        }
        return nil
    }

    /// The same `Idempotency-Key` with another message: answering with the first message's receipt
    /// would tell the client that this one was sent.
    static let idempotencyKeyReused = APIError(
        .unprocessableContent, "idempotency_key_reused", "This Idempotency-Key was used for a different message; use a new key.")

    /// The stored answer of a send with an `Idempotency-Key`: `{"seq","topic","ts"}`, keys sorted, in
    /// the form answers kept by earlier versions have too (written directly: it is on every keyed send's path).
    static func sendAnswer(_ receipt: PublishReceipt) -> Data {
        var bytes = Array(#"{"seq":"#.utf8) + Array(String(receipt.seq).utf8) + Array(#","topic":"#.utf8)
        JSONStringEscaping.append(receipt.topic, to: &bytes)
        bytes += Array(#","ts":"#.utf8)
        JSONStringEscaping.append(timestampText(receipt.timestamp), to: &bytes)
        bytes.append(UInt8(ascii: "}"))
        return Data(bytes)
    }

    /// A stored answer read back (nil when it is not one: the store holds what this code wrote).
    static func storedReceipt(_ answer: Data) -> PublishReceipt? {
        struct Stored: Decodable {
            var seq: Int
            var topic: String
            var ts: String
        }
        guard let stored = try? JSONDecoder().decode(Stored.self, from: answer),
            let timestamp = Timestamps.date(stored.ts)
        else { return nil }
        return PublishReceipt(topic: stored.topic, seq: stored.seq, timestamp: timestamp)
    }

    /// `GET /v1/messages?before=<seq>&limit=<n>` -> a page, newest first: from MongoDB when
    /// `MONGO_URL` is set (pages up to 1000), else through the caller's Tinode session (up to 100).
    func history(before: Int?, limit: Int?, for caller: Caller) async throws -> MessagePage {
        if let before, before < 1 { throw APIError.badRequest("`before` must be a positive seq.") }
        let maximum = storeReads == nil ? Self.tinodePageLimit : TinodeQueries.maximumPageSize
        let limit = limit ?? 50
        guard (1...maximum).contains(limit) else { throw APIError.badRequest("`limit` must be 1 to \(maximum).") }
        let messages: [ChatMessage]
        if let storeReads {
            messages = try await storeHistory(storeReads, caller: caller, before: before, limit: limit)
        } else {
            messages = try await protocolHistory(caller: caller, before: before, limit: limit)
        }
        let oldest = messages.last?.seq ?? 0
        return MessagePage(messages: messages, nextBefore: messages.count == limit && oldest > 1 ? oldest : nil)
    }

    /// Tinode content for `{"text"}` (a JSON string) or `{"content"}` (Drafty, with head `mime`).
    ///
    /// The size limit applies to the content as encoded for Tinode (``TinodeContentSize``), not to
    /// the text as the client sent it: escaping makes text of control characters six times larger.
    func messageContent(_ message: OutgoingMessage) throws -> (Data, [String: Data]) {
        switch message {
        case .text(let text):
            guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw APIError.badRequest("`text` is empty.") }
            // Checked before encoding too, so that a huge text is refused without copying it.
            guard text.utf8.count <= settings.maxMessageBytes else { throw messageTooLarge("text") }
            // Tinode's plain-text content: the text as a JSON string.
            let content = JSONStringEscaping.literal(text)
            guard TinodeContentSize.measure(content) <= settings.maxMessageBytes else { throw messageTooLarge("text") }
            return (Data(content), [:])
        case .drafty(let data):
            guard TinodeContentSize.measure(data) <= settings.maxMessageBytes else { throw messageTooLarge("content") }
            return (data, ["mime": Data("\"text/x-drafty\"".utf8)])
        }
    }

    private func messageTooLarge(_ field: String) -> APIError {
        APIError(
            .contentTooLarge, "message_too_large",
            "`\(field)` is larger than \(settings.maxMessageBytes) bytes as sent to Tinode (JSON, escapes included).")
    }
}
