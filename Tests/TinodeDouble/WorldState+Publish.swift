import Foundation
import TinodeProto

/// `{pub}` and message fan-out (fixtures d, e, j).
extension WorldState {
    mutating func publish(_ pub: Pbx_ClientPub, _ request: RequestContext, user: String) {
        let name = pub.topic
        let key = topicKey(name, for: user)
        guard isAttached(request.sessionID, to: key) else {
            return reply(ServerMessage.ctrl(.mustAttachFirst, id: pub.id, topic: name), request)
        }
        guard let mode = topics[key]?.subscriptions[user]?.access.mode, mode.allows("W") else {
            return reply(ServerMessage.ctrl(.permissionDenied, id: pub.id, topic: name), request)
        }
        let seq = store(in: key, from: user, content: pub.content, head: pub.head, now: request.now)
        // The ack, only when the client gave an id, comes before the echo (fixture d).
        if !pub.id.isEmpty {
            reply(ServerMessage.ctrl(.accepted, id: pub.id, topic: name, params: ["seq": GoJSON.number(seq)]), request)
        }
        fanOut(seq, in: key, echo: !pub.noEcho, publisher: request.sessionID, request)
    }

    /// Stores a message with the next seq. Invalid JSON content becomes null and invalid head values
    /// are dropped, silently, as Tinode does. The author's read and recv marks move to it.
    mutating func store(in topic: String, from user: String, content: Data, head: [String: Data], now: Int64) -> Int {
        let seq = topics[topic]!.lastSeq + 1
        topics[topic]!.lastSeq = seq
        let validHead = head.filter { JSONValue.parse($0.value) != nil }
        let record = MessageRecord(
            seq: seq, from: user, timestamp: now, content: GoJSON.reencode(content) ?? GoJSON.null,
            head: validHead.compactMapValues(GoJSON.reencode), receivedContent: content, receivedHead: validHead)
        topics[topic]!.messages.append(record)
        topics[topic]!.touchedAt = now
        if topics[topic]!.subscriptions[user] != nil {
            topics[topic]!.subscriptions[user]!.readID = seq
            topics[topic]!.subscriptions[user]!.recvID = seq
        }
        return seq
    }

    /// `data` to every attached session (the publisher's only with echo); members attached to `me`
    /// but not to the topic get `pres MSG` on `me` instead (fixture e). Each receiver gets the topic
    /// under the name it knows (fixture j: the other user's id for p2p).
    mutating func fanOut(_ seq: Int, in topic: String, echo: Bool, publisher: Int?, _ request: RequestContext?) {
        guard let group = topics[topic], let record = group.messages.last(where: { $0.seq == seq }) else { return }
        for sessionID in group.attachedSessions.sorted() where echo || sessionID != publisher {
            guard let receiver = sessions[sessionID]?.userID else { continue }
            send(ServerMessage.data(topic: topicName(topic, for: receiver), record), to: sessionID, for: request)
        }
        for member in group.subscriberOrder where sessionIDsByUser[member]?.isEmpty == false {
            announceOnMe(
                to: member, src: topicName(topic, for: member), what: .msg, seq: seq, actor: record.from, skippingAttachedTo: topic,
                for: request)
        }
    }
}
