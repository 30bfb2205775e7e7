import TinodeProto

/// `{note}`: fire and forget. Read/recv marks move forward and the other sessions attached to the
/// topic get an `info`; anything invalid is dropped without a reply.
extension WorldState {
    mutating func note(_ note: Pbx_ClientNote, _ request: RequestContext) {
        guard let user = sessions[request.sessionID]?.userID, isAttached(request.sessionID, to: note.topic),
            let group = topics[note.topic], group.subscriptions[user] != nil
        else { return }
        let seq = Int(note.seqID)
        switch note.what {
        case .read, .recv:
            guard seq > 0, seq <= group.lastSeq else { return }
            if note.what == .read {
                guard seq > group.subscriptions[user]!.readID else { return }
                topics[note.topic]!.subscriptions[user]!.readID = seq
                topics[note.topic]!.subscriptions[user]!.recvID = max(seq, group.subscriptions[user]!.recvID)
            } else {
                guard seq > group.subscriptions[user]!.recvID else { return }
                topics[note.topic]!.subscriptions[user]!.recvID = seq
            }
        case .kp:
            break
        default:
            return
        }
        let info = ServerMessage.info(topic: note.topic, from: user, what: note.what, seq: note.what == .kp ? 0 : seq)
        for sessionID in group.attachedSessions where sessionID != request.sessionID {
            send(info, to: sessionID, for: nil)
        }
    }
}
