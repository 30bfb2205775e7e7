import TinodeProto

/// `{del}`, and here `what=USER`: one's own account, or any account from a root session (fixtures h1,
/// h2). The requester gets 200 first, then every stream of the deleted user gets 205 and goes
/// half-dead. Messages and topics: WorldState+DeleteMessages.swift, WorldState+DeleteTopic.swift.
extension WorldState {
    mutating func delete(_ del: Pbx_ClientDel, _ request: RequestContext, user: String) {
        switch del.what {
        case .user: deleteUser(del, request, user: user)
        case .msg: deleteMessages(del, request, user: user)
        case .topic: deleteTopic(del, request, user: user)
        default:
            // Deleting subscriptions and credentials is not modelled.
            reply(ServerMessage.ctrl(.notImplemented, id: del.id, topic: del.topic), request)
        }
    }

    private mutating func deleteUser(_ del: Pbx_ClientDel, _ request: RequestContext, user: String) {
        let target = del.userID.isEmpty ? user : del.userID
        guard target == user || sessions[request.sessionID]!.authLevel == .root else {
            return reply(ServerMessage.ctrl(.permissionDenied, id: del.id), request)
        }
        guard let record = users[target], !record.isDeleted else {
            return reply(ServerMessage.ctrl(.userNotFound, id: del.id), request)
        }
        reply(ServerMessage.ctrl(.ok, id: del.id), request)
        deleteUser(target, now: request.now)
    }

    /// Soft-deletes the account: its login is freed, its subscriptions go, its streams are evicted.
    /// Groups it owns are kept (Tinode would delete them).
    mutating func deleteUser(_ user: String, now: Int64) {
        guard let record = users[user] else { return }
        users[user]!.isDeleted = true
        if let login = record.login { userIDsByLogin[login] = nil }
        evictSessions(of: user, now: now)
        for topic in record.groups where topics[topic]?.owner != user {
            unsubscribe(user, from: topic)
        }
    }
}
