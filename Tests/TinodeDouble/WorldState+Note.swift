import TinodeProto

/// `{note}`: no id, and no reply when accepted (fixture k). Read/recv marks move forward; the other
/// sessions attached to the topic get an `info` there, the members' sessions on `me` that are not
/// attached get it on `me` with `src`, and the sender's other sessions also get a `pres` on `me`.
/// Invalid notes are dropped without a reply; a note on a topic the session is not attached to
/// gets 409 (with the topic and no id).
extension WorldState {
    mutating func note(_ note: Pbx_ClientNote, _ request: RequestContext) {
        guard let user = sessions[request.sessionID]?.userID else { return }
        let key = topicKey(note.topic, for: user)
        guard isAttached(request.sessionID, to: key) else {
            return reply(ServerMessage.ctrl(.mustAttachFirst, id: "", topic: note.topic), request)
        }
        guard let topic = topics[key], let subscription = topic.subscriptions[user] else { return }
        let seq = Int(note.seqID)
        switch note.what {
        case .read:
            guard seq > subscription.readID, seq <= topic.lastSeq else { return }
            // Only the read mark moves: a read note alone leaves recv at 0 (fixture l).
            topics[key]!.subscriptions[user]!.readID = seq
            topics[key]!.subscriptions[user]!.updatedAt = request.now
        case .recv:
            guard seq > subscription.recvID, seq <= topic.lastSeq else { return }
            topics[key]!.subscriptions[user]!.recvID = seq
            topics[key]!.subscriptions[user]!.updatedAt = request.now
        case .kp:
            break
        default:
            return
        }
        let shownSeq = note.what == .kp ? 0 : seq
        for sessionID in topic.attachedSessions.sorted() where sessionID != request.sessionID {
            guard let receiver = sessions[sessionID]?.userID else { continue }
            let info = ServerMessage.info(topic: topicName(key, for: receiver), from: user, what: note.what, seq: shownSeq)
            send(info, to: sessionID, for: nil)
        }
        // The sender's other sessions learn that their own marks moved.
        if note.what != .kp {
            let what: Pbx_ServerPres.What = note.what == .read ? .read : .recv
            announceOnMe(
                to: user, src: topicName(key, for: user), what: what, seq: seq, skippingAttachedTo: key, excluding: request.sessionID,
                for: nil)
        }
        // A key press is for the others only.
        for member in topic.subscriberOrder where note.what != .kp || member != user {
            let info = ServerMessage.info(topic: "me", from: user, what: note.what, seq: shownSeq, src: topicName(key, for: member))
            for sessionID in (sessionIDsByUser[member] ?? []).sorted() where sessionID != request.sessionID {
                guard let attached = sessions[sessionID]?.attached, attached.contains("me"), !attached.contains(key) else { continue }
                send(info, to: sessionID, for: nil)
            }
        }
    }
}
