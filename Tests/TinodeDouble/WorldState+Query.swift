import Foundation
import TinodeProto

/// Answers to get queries, inside `{sub}` and `{get}` alike, in Tinode's order: desc, sub, tags,
/// cred, del, aux, then data. Every meta and ctrl carries the request's id; data messages do not.
extension WorldState {
    /// Tinode's adapters never return more than 100 messages per query, and 100 when no limit is set.
    static let maxMessagesPerQuery = 100

    /// `topic` is the name the user gave (`usr<peer>` for p2p); replies carry it.
    /// `loadingMe`: the query comes with the `{sub me}` that brought the user online, before `me`
    /// has learnt which topics are online (fixture l).
    mutating func answerQuery(
        _ query: Pbx_GetQuery, topic: String, id: String, _ request: RequestContext, user: String,
        announceOnlineAfterDescription: Bool = false, loadingMe: Bool = false
    ) {
        let key = topicKey(topic, for: user)
        let what = MetaWhat(parsing: query.what)
        if what.contains(.desc) {
            reply(ServerMessage.meta(id: id, topic: topic) { $0.desc = description(of: key, for: user) }, request)
        }
        // Tinode's `me` topic runs apart from the new topic; in fixtures d and j its presence landed here.
        if announceOnlineAfterDescription { announceOnMe(to: user, src: topic, what: .on, for: request) }
        if what.contains(.sub) {
            replySubscriptions(topic: topic, id: id, options: query.sub, request, user: user, knowsOnline: !loadingMe)
        }
        if what.contains(.tags) {
            let tags = visibleTags(of: key, for: user)
            // On gRPC the 204 for tags, creds, del and aux loses its params (tinode-protocol.md 3.11).
            reply(
                tags.isEmpty
                    ? ServerMessage.ctrl(.noContent, id: id, topic: topic) : ServerMessage.meta(id: id, topic: topic) { $0.tags = tags },
                request)
        }
        if what.contains(.cred) {
            let credentials = topic == "me" ? users[user]?.credentials ?? [] : []
            reply(
                credentials.isEmpty
                    ? ServerMessage.ctrl(.noContent, id: id, topic: topic)
                    : ServerMessage.meta(id: id, topic: topic) { meta in
                        meta.cred = credentials.map { credential in
                            var wire = Pbx_ServerCred()
                            wire.method = credential.method
                            wire.value = credential.value
                            return wire
                        }
                    },
                request)
        }
        if what.contains(.del) { replyDeletions(topic: topic, key: key, id: id, request) }
        // Aux cannot be set over gRPC.
        if what.contains(.aux) { reply(ServerMessage.ctrl(.noContent, id: id, topic: topic), request) }
        if what.contains(.data) { replyData(topic: topic, key: key, id: id, options: query.data, request) }
    }

    func description(of topic: String, for user: String) -> Pbx_TopicDesc {
        var desc = Pbx_TopicDesc()
        if topic == "me", let record = users[user] {
            desc.createdAt = record.createdAt
            desc.updatedAt = record.updatedAt
            desc.touchedAt = record.createdAt
            desc.defacs = record.defaultAccess.wire
            desc.acs = AccessPair(want: AccessMode("JPS"), given: AccessMode("JPS")).wire
            if let publicJSON = record.publicJSON { desc.public = publicJSON }
            if let privateJSON = record.privateJSON { desc.private = privateJSON }
        } else if let group = topics[topic], group.isP2P {
            // The peer's public, no default access and no `online` (fixture j).
            desc.createdAt = group.createdAt
            desc.updatedAt = group.updatedAt
            desc.touchedAt = group.touchedAt
            if let publicJSON = users[topicName(topic, for: user)]?.publicJSON { desc.public = publicJSON }
            if let subscription = group.subscriptions[user] {
                desc.acs = subscription.access.wire
                desc.seqID = Int32(group.lastSeq)
                desc.readID = Int32(subscription.readID)
                desc.recvID = Int32(subscription.recvID)
                desc.delID = Int32(group.deletions.count)
                if let privateJSON = subscription.privateJSON { desc.private = privateJSON }
            }
        } else if let group = topics[topic] {
            desc.createdAt = group.createdAt
            desc.updatedAt = group.updatedAt
            desc.touchedAt = group.touchedAt
            if let publicJSON = group.publicJSON { desc.public = publicJSON }
            if let subscription = group.subscriptions[user] {
                // Only those who manage access see the default access (fixture e: the joiner does not).
                if subscription.access.mode.isSharer { desc.defacs = group.defaultAccess.wire }
                desc.acs = subscription.access.wire
                desc.seqID = Int32(group.lastSeq)
                desc.readID = Int32(subscription.readID)
                desc.recvID = Int32(subscription.recvID)
                desc.delID = Int32(group.deletions.count)
                if let privateJSON = subscription.privateJSON { desc.private = privateJSON }
            }
            desc.online = group.isOnline
        }
        return desc
    }

    /// What `{get desc}` shows of a topic the session is not attached to.
    func basicDescription(of topic: String, for user: String) -> Pbx_TopicDesc? {
        var desc = Pbx_TopicDesc()
        if topic == "me", let record = users[user] {
            desc.createdAt = record.createdAt
            desc.updatedAt = record.updatedAt
            if let publicJSON = record.publicJSON { desc.public = publicJSON }
        } else if let group = topics[topic], !group.isP2P {
            desc.createdAt = group.createdAt
            desc.updatedAt = group.updatedAt
            if let publicJSON = group.publicJSON { desc.public = publicJSON }
        } else {
            return nil
        }
        return desc
    }

    private mutating func replySubscriptions(
        topic: String, id: String, options: Pbx_GetOpts, _ request: RequestContext, user: String, knowsOnline: Bool
    ) {
        let subscriptions: [Pbx_TopicSub]
        switch topic {
        case "me":
            let since = options.ifModifiedSince > 0 ? options.ifModifiedSince : nil
            subscriptions = topicsOf(user, modifiedSince: since, knowsOnline: knowsOnline)
        case "fnd": subscriptions = findResults(for: request.sessionID, user: user)
        default: subscriptions = members(of: topicKey(topic, for: user), for: user)
        }
        guard !subscriptions.isEmpty else {
            return reply(ServerMessage.ctrl(.noContent, id: id, topic: topic, params: ServerMessage.what("sub")), request)
        }
        reply(ServerMessage.meta(id: id, topic: topic) { $0.sub = subscriptions }, request)
    }

    /// A topic's members in subscription order (fixture e); p2p lists show neither `public` nor
    /// `online` (fixture j).
    private func members(of topic: String, for user: String) -> [Pbx_TopicSub] {
        guard let group = topics[topic] else { return [] }
        return group.subscriberOrder.compactMap { member in
            guard let subscription = group.subscriptions[member] else { return nil }
            var entry = Pbx_TopicSub()
            entry.userID = member
            entry.updatedAt = subscription.updatedAt
            entry.acs = subscription.access.wire
            entry.readID = Int32(subscription.readID)
            entry.recvID = Int32(subscription.recvID)
            guard !group.isP2P else { return entry }
            entry.online = (group.attachedCountByUser[member] ?? 0) > 0
            if let publicJSON = users[member]?.publicJSON { entry.public = publicJSON }
            if member == user, let privateJSON = subscription.privateJSON { entry.private = privateJSON }
            return entry
        }
    }

    private func visibleTags(of topic: String, for user: String) -> [String] {
        if topic == "me" { return users[user]?.tags ?? [] }
        guard let group = topics[topic], group.subscriptions[user]?.access.mode.isSharer == true else { return [] }
        return group.tags
    }

    /// Data messages newest first, then 208 `{"count","what":"data"}`, or 204 `{"what":"data"}`.
    /// Deleted messages are simply missing (fixture m).
    mutating func replyData(topic: String, key: String, id: String, options: Pbx_GetOpts, _ request: RequestContext) {
        dataQueryLimits.append(options.limit > 0 ? min(Int(options.limit), Self.maxMessagesPerQuery) : Self.maxMessagesPerQuery)
        let selected = topics[key].map { Self.select($0.messages, options) } ?? []
        for record in selected { reply(ServerMessage.data(topic: topic, record), request) }
        guard !selected.isEmpty else {
            return reply(ServerMessage.ctrl(.noContent, id: id, topic: topic, params: ServerMessage.what("data")), request)
        }
        let params = ["count": GoJSON.number(selected.count), "what": GoJSON.string("data")]
        reply(ServerMessage.ctrl(.delivered, id: id, topic: topic, params: params), request)
    }

    /// `since_id` is inclusive, `before_id` exclusive; `ranges` replace both when given.
    static func select(_ messages: [MessageRecord], _ options: Pbx_GetOpts) -> [MessageRecord] {
        let limit = options.limit > 0 ? min(Int(options.limit), maxMessagesPerQuery) : maxMessagesPerQuery
        if !options.ranges.isEmpty {
            let picked = messages.filter { record in
                options.ranges.contains { range in
                    range.hi == 0 ? record.seq == Int(range.low) : (Int(range.low)..<Int(range.hi)).contains(record.seq)
                }
            }
            return Array(picked.reversed().prefix(limit))
        }
        let lower = max(Int(options.sinceID), 1)
        let upper = options.beforeID > 0 ? Int(options.beforeID) - 1 : Int.max
        return Array(messages.filter { $0.seq >= lower && $0.seq <= upper }.reversed().prefix(limit))
    }
}

extension DefaultAccess {
    var wire: Pbx_DefaultAcsMode {
        var acs = Pbx_DefaultAcsMode()
        acs.auth = auth.text
        acs.anon = anon.text
        return acs
    }
}
