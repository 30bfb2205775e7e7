import Foundation
import MongoReader

extension GatewayAPI {
    /// `GET /v1/users/{user_id}` -> `{"user_id","name","login"}` for an active user who shares the
    /// chat room with the caller, read from MongoDB's `users` and `auth` collections. The same 404
    /// for a user who does not exist and one who is not in the room, so the route reveals no more
    /// than the room's member list does.
    func directoryEntry(of text: String, for caller: Caller) async throws -> DirectoryEntry {
        guard let target = TinodeUserID(clientForm: text) else {
            throw APIError.badRequest("`user_id` must be a Tinode user id (`usr` and 11 characters).")
        }
        guard let reads = storeReads else {
            throw APIError(.notImplemented, "directory_unavailable", "The user directory needs MONGO_URL (Tinode's MongoDB).")
        }
        guard let room = await pool.roomTopic else { throw APIError.unavailable("The chat room") }
        guard let me = TinodeUserID(clientForm: caller.userID) else { throw APIError.unauthorized }
        let answer: DirectoryAnswer
        do {
            answer = try await reads.reader.directoryEntry(of: target, for: me, in: room)
        } catch {
            reads.metrics.failures.increment()
            logger.warning("MongoDB read failed", metadata: ["error": "\(error)"])
            throw APIError.storeUnavailable(retryAfter: reads.retryAfter)
        }
        switch answer {
        case .found(let entry):
            return entry
        case .notFound:
            throw APIError(.notFound, "user_not_found", "No active user with this id shares the chat room with you.")
        case .denied(let denial):
            throw APIError.storeDenial(denial)
        }
    }
}
