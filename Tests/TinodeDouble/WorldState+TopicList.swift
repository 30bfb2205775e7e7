import Foundation
import TinodeProto

/// The subscription list of `me` (fixtures j, k, l): the user's topics, as its adapter returns them.
extension WorldState {
    /// Every live subscription in full, in the order of the topics' last change. With
    /// `if_modified_since`, only what changed after it, then the subscriptions given up after it,
    /// then placeholders for online topics that were not selected.
    ///
    /// `knowsOnline` is false while `me` is being loaded: that list has no `online` (fixture l).
    func topicsOf(_ user: String, modifiedSince since: Int64?, knowsOnline: Bool) -> [Pbx_TopicSub] {
        guard let record = users[user] else { return [] }
        // Tinode reads the milliseconds of `if_modified_since` as nanoseconds (int64ToTime), so the
        // limit is the start of its second plus a few nanoseconds: whatever changed later in that
        // second counts as changed, the value itself included (fixture l, its comment line).
        let limit = since.map { $0 - $0 % 1000 }
        let keys = record.groups.enumerated().sorted { left, right in
            let leftChange = topics[left.element]?.changedAt ?? 0, rightChange = topics[right.element]?.changedAt ?? 0
            return (leftChange, left.offset) < (rightChange, right.offset)
        }.map(\.element)

        var selected: [Pbx_TopicSub] = []
        var placeholders: [Pbx_TopicSub] = []
        for key in keys {
            guard let topic = topics[key], let subscription = topic.subscriptions[user] else { continue }
            let name = topicName(key, for: user)
            let online = knowsOnline && isOnline(key, for: user)
            let subscriptionChanged = limit.map { subscription.updatedAt > $0 } ?? true
            let topicChanged = limit.map { topic.changedAt > $0 } ?? true
            guard subscriptionChanged || topicChanged else {
                if online { placeholders.append(Self.placeholder(name, online: true)) }
                continue
            }
            var entry = Pbx_TopicSub()
            entry.topic = name
            entry.updatedAt = subscription.updatedAt
            entry.acs = subscription.access.wire
            entry.readID = Int32(subscription.readID)
            entry.recvID = Int32(subscription.recvID)
            entry.online = online
            if let privateJSON = subscription.privateJSON { entry.private = privateJSON }
            // What describes the topic comes only when the topic itself changed.
            if topicChanged {
                entry.touchedAt = topic.touchedAt
                entry.seqID = Int32(topic.lastSeq)
                let publicJSON = topic.isP2P ? users[name]?.publicJSON : topic.publicJSON
                if let publicJSON { entry.public = publicJSON }
            }
            selected.append(entry)
        }
        guard let limit else { return selected }
        let given = record.unsubscribed.filter { $0.value > limit }.sorted { ($0.value, $0.key) < ($1.value, $1.key) }
        let gone = given.map { key, deletedAt in
            var entry = Self.placeholder(topicName(key, for: user), online: false)
            entry.deletedAt = deletedAt
            return entry
        }
        return selected + gone + placeholders
    }

    /// `{topic, acs: {}}` (the empty `acs` is on the wire), with `online` when it is.
    private static func placeholder(_ name: String, online: Bool) -> Pbx_TopicSub {
        var entry = Pbx_TopicSub()
        entry.topic = name
        entry.acs = Pbx_AccessMode()
        entry.online = online
        return entry
    }

    /// After `{sub me}` brings the user online, one `pres me ON` per online topic, in list order;
    /// Tinode's topics answer on their own, so the order is not Tinode's (fixture l).
    mutating func announceOnlineTopics(to sessionID: Int, user: String, _ request: RequestContext) {
        for entry in topicsOf(user, modifiedSince: nil, knowsOnline: true) where entry.online {
            send(ServerMessage.pres(topic: "me", src: entry.topic, what: .on), to: sessionID, for: request)
        }
    }
}
