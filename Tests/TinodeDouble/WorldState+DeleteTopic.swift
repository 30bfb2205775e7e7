import TinodeProto

/// `{del what=TOPIC}` by a group's owner (fixture m): 200 to the owner, then every member's sessions
/// on `me` get `pres GONE`. Sessions attached to the group are detached without a word; the topic,
/// its history and its subscriptions are gone, and later requests find no such topic.
extension WorldState {
    mutating func deleteTopic(_ del: Pbx_ClientDel, _ request: RequestContext, user: String) {
        let name = del.topic
        let key = topicKey(name, for: user)
        guard let topic = topics[key], topic.subscriptions[user] != nil else {
            return reply(ServerMessage.ctrl(.topicNotFound, id: del.id, topic: name), request)
        }
        // Deleting a p2p topic, or a group as a member (which Tinode treats as unsubscribing), is not modelled.
        guard !topic.isP2P else { return reply(ServerMessage.ctrl(.notImplemented, id: del.id, topic: name), request) }
        guard topic.owner == user else { return reply(ServerMessage.ctrl(.permissionDenied, id: del.id, topic: name), request) }
        reply(ServerMessage.ctrl(.ok, id: del.id, topic: name), request)
        for sessionID in topic.attachedSessions {
            sessions[sessionID]?.attached.remove(key)
        }
        topics[key] = nil
        for member in topic.subscriberOrder {
            users[member]?.groups.removeAll { $0 == key }
            announceOnMe(to: member, src: name, what: .gone, for: request)
        }
    }
}
