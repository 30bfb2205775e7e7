import Foundation
import MongoReader

extension GatewayAPI {
    /// A page of the room's history from MongoDB, newest first. A caller who has no subscription
    /// yet is served through the protocol path, whose session joins the room as it always did. When
    /// MongoDB fails, the answer is 503, or with `MONGO_FALLBACK=true` the protocol path (logged and
    /// counted).
    func storeHistory(_ reads: StoreReads, caller: Caller, before: Int?, limit: Int) async throws -> [ChatMessage] {
        guard let room = await pool.roomTopic else { throw APIError.unavailable("The chat room") }
        guard let user = TinodeUserID(clientForm: caller.userID) else { throw APIError.unauthorized }
        let answer: HistoryAnswer
        do {
            answer = try await reads.reader.history(of: room, for: user, before: before, limit: limit)
        } catch {
            reads.metrics.failures.increment()
            guard reads.fallbackToTinode else {
                logger.warning("MongoDB read failed", metadata: ["error": "\(error)"])
                throw APIError.storeUnavailable(retryAfter: reads.retryAfter)
            }
            reads.metrics.fallbacks.increment()
            logger.warning("MongoDB read failed; history read through Tinode instead", metadata: ["error": "\(error)"])
            return try await protocolHistory(caller: caller, before: before, limit: limit)
        }
        switch answer {
        case .page(let messages):
            return messages.map { ChatMessage(stored: $0, topic: room) }
        case .denied(.notSubscribed):
            logger.debug("not subscribed in MongoDB yet; history read through Tinode", metadata: ["user": "\(caller.userID)"])
            return try await protocolHistory(caller: caller, before: before, limit: limit)
        case .denied(let denial):
            throw APIError.storeDenial(denial)
        }
    }

    /// The page through the caller's Tinode session, in requests of at most Tinode's 100 messages.
    func protocolHistory(caller: Caller, before: Int?, limit: Int) async throws -> [ChatMessage] {
        let session = try await session(for: caller)
        var messages: [ChatMessage] = []
        var cursor = before
        while messages.count < limit {
            let asked = min(Self.tinodePageLimit, limit - messages.count)
            let page = try await tinodeCall { try await session.history(before: cursor, limit: asked) }
            messages += page.messages
            guard page.messages.count == asked, let oldest = page.messages.last?.seq, oldest > 1 else { break }
            cursor = oldest
        }
        return messages
    }

    /// Tinode answers at most this many messages to one `{get what:"data"}`.
    static let tinodePageLimit = 100
}
