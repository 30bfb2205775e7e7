import Foundation
import TinodeProto

/// `{pub}` and message fan-out (fixtures d, e).
extension WorldState {
    mutating func publish(_ pub: Pbx_ClientPub, _ request: RequestContext, user: String) {
        let name = pub.topic
        guard isAttached(request.sessionID, to: name) else {
            return reply(ServerMessage.ctrl(.mustAttachFirst, id: pub.id, topic: name), request)
        }
        guard let mode = topics[name]?.subscriptions[user]?.access.mode, mode.allows("W") else {
            return reply(ServerMessage.ctrl(.permissionDenied, id: pub.id, topic: name), request)
        }
        let seq = store(in: name, from: user, content: pub.content, head: pub.head, now: request.now)
        // The ack, only when the client gave an id, comes before the echo (fixture d).
        if !pub.id.isEmpty {
            reply(ServerMessage.ctrl(.accepted, id: pub.id, topic: name, params: ["seq": GoJSON.number(seq)]), request)
        }
        fanOut(seq, in: name, echo: !pub.noEcho, publisher: request.sessionID, request)
    }

    /// Stores a message with the next seq. Invalid JSON content becomes null and invalid head values
    /// are dropped, silently, as Tinode does. The author's read and recv marks move to it.
    mutating func store(in topic: String, from user: String, content: Data, head: [String: Data], now: Int64) -> Int {
        let seq = topics[topic]!.lastSeq + 1
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
    /// but not to the topic get `pres MSG` on `me` instead (fixture e).
    mutating func fanOut(_ seq: Int, in topic: String, echo: Bool, publisher: Int?, _ request: RequestContext?) {
        guard let group = topics[topic] else { return }
        let record = group.messages[seq - 1]
        let data = ServerMessage.data(topic: topic, record)
        for sessionID in group.attachedSessions where echo || sessionID != publisher {
            send(data, to: sessionID, for: request)
        }
        for member in group.subscriberOrder where sessionIDsByUser[member]?.isEmpty == false {
            announceOnMe(to: member, src: topic, what: .msg, seq: seq, actor: record.from, skippingAttachedTo: topic, for: request)
        }
    }
}
