import TinodeProto

/// `{del what=MSG hard}` and `{get what="del"}` (fixture m). Deleted messages vanish from history
/// (no tombstones); each deletion gets the next del_id, and the others attached to the topic get a
/// `pres DEL` on it. The requester gets a bare 200: on gRPC its `{"del": id}` params are lost.
extension WorldState {
    mutating func deleteMessages(_ del: Pbx_ClientDel, _ request: RequestContext, user: String) {
        let name = del.topic
        let key = topicKey(name, for: user)
        guard isAttached(request.sessionID, to: key) else {
            return reply(ServerMessage.ctrl(.mustAttachFirst, id: del.id, topic: name), request)
        }
        // Hiding messages from oneself only (a soft delete) is not modelled.
        guard del.hard else { return reply(ServerMessage.ctrl(.notImplemented, id: del.id, topic: name), request) }
        guard let topic = topics[key], topic.subscriptions[user]?.access.mode.allows("D") == true else {
            return reply(ServerMessage.ctrl(.permissionDenied, id: del.id, topic: name), request)
        }
        // `hi` is exclusive; 0 means the single seq `low`.
        let ranges = del.delSeq.map { range in
            Int(range.low)...(range.hi == 0 ? Int(range.low) : Int(range.hi) - 1)
        }
        guard !ranges.isEmpty, ranges.allSatisfy({ $0.lowerBound > 0 && $0.upperBound >= $0.lowerBound }) else {
            return reply(ServerMessage.ctrl(.malformed, id: del.id, topic: name), request)
        }
        topics[key]!.messages.removeAll { message in ranges.contains { $0.contains(message.seq) } }
        topics[key]!.deletions.append(ranges)
        let delID = topics[key]!.deletions.count
        reply(ServerMessage.ctrl(.ok, id: del.id, topic: name), request)
        for sessionID in topic.attachedSessions.sorted() where sessionID != request.sessionID {
            guard let receiver = sessions[sessionID]?.userID else { continue }
            let pres = ServerMessage.pres(topic: topicName(key, for: receiver), src: user, what: .del, delID: delID, deleted: ranges)
            send(pres, to: sessionID, for: request)
        }
    }

    /// One meta `del` with the latest del_id and every deleted range, or 204 (without params on gRPC).
    mutating func replyDeletions(topic: String, key: String, id: String, _ request: RequestContext) {
        guard let deletions = topics[key]?.deletions, !deletions.isEmpty else {
            return reply(ServerMessage.ctrl(.noContent, id: id, topic: topic), request)
        }
        reply(
            ServerMessage.meta(id: id, topic: topic) { meta in
                meta.del.delID = Int32(deletions.count)
                meta.del.delSeq = deletions.joined().map(seqRange)
            }, request)
    }
}
