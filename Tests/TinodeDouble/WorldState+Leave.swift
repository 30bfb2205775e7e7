import TinodeProto

/// `{leave}`: detach, optionally unsubscribe (tinode-protocol.md 3.4 step 7, fixtures d, e).
extension WorldState {
    mutating func leave(_ leave: Pbx_ClientLeave, _ request: RequestContext, user: String) {
        let name = leave.topic
        guard !name.isEmpty else { return reply(ServerMessage.ctrl(.malformed, id: leave.id), request) }
        if leave.unsub, name == "me" || name == "fnd" {
            return reply(ServerMessage.ctrl(.permissionDenied, id: leave.id, topic: name), request)
        }
        let attached = isAttached(request.sessionID, to: name)
        let subscribed = topics[name]?.subscriptions[user] != nil
        guard attached || (leave.unsub && subscribed) else {
            return reply(ServerMessage.ctrl(.notJoined, id: leave.id, topic: name), request)
        }
        // The owner cannot walk away from the group.
        if leave.unsub, topics[name]?.owner == user {
            return reply(ServerMessage.ctrl(.permissionDenied, id: leave.id, topic: name), request)
        }
        if attached { detach(request.sessionID, from: name) }
        if leave.unsub { unsubscribe(user, from: name) }
        reply(ServerMessage.ctrl(.ok, id: leave.id, topic: name), request)
    }

    /// Removes the subscription; the user's other sessions attached to the group are detached.
    mutating func unsubscribe(_ user: String, from topic: String) {
        guard topics[topic] != nil else { return }
        for sessionID in topics[topic]!.attachedSessions.sorted() where sessions[sessionID]?.userID == user {
            detach(sessionID, from: topic)
        }
        topics[topic]!.subscriptions[user] = nil
        topics[topic]!.subscriberOrder.removeAll { $0 == user }
        users[user]?.groups.removeAll { $0 == topic }
    }
}
