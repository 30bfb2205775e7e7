import TinodeProto

/// `{leave}`: detach, optionally unsubscribe (tinode-protocol.md 3.4 step 7, fixtures d, e, l).
extension WorldState {
    mutating func leave(_ leave: Pbx_ClientLeave, _ request: RequestContext, user: String) {
        let name = leave.topic
        guard !name.isEmpty else { return reply(ServerMessage.ctrl(.malformed, id: leave.id), request) }
        if leave.unsub, name == "me" || name == "fnd" {
            return reply(ServerMessage.ctrl(.permissionDenied, id: leave.id, topic: name), request)
        }
        let key = topicKey(name, for: user)
        // Unsubscribing needs the topic attached, even for a subscriber (fixture l: 409).
        guard isAttached(request.sessionID, to: key) else {
            return reply(ServerMessage.ctrl(leave.unsub ? .mustAttachFirst : .notJoined, id: leave.id, topic: name), request)
        }
        // The owner cannot walk away from the group.
        if leave.unsub, topics[key]?.owner == user {
            return reply(ServerMessage.ctrl(.permissionDenied, id: leave.id, topic: name), request)
        }
        guard leave.unsub else {
            detach(request.sessionID, from: key)
            return reply(ServerMessage.ctrl(.ok, id: leave.id, topic: name), request)
        }
        // The reply first, then the others hear of the access going (N/N) before the user going offline.
        reply(ServerMessage.ctrl(.ok, id: leave.id, topic: name), request)
        let none = AccessPair(want: .none, given: .none)
        announceInGroup(key, about: user, what: .acs, acs: none, excluding: request.sessionID)
        detach(request.sessionID, from: key)
        unsubscribe(user, from: key)
        users[user]?.unsubscribed[key] = request.now
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
