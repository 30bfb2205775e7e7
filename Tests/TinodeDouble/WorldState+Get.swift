import TinodeProto

/// `{get}`: one meta per part and no ctrl, except the data part's 208/204 and 204 for empty parts
/// (tinode-protocol.md 8, fixture d).
extension WorldState {
    mutating func get(_ get: Pbx_ClientGet, _ request: RequestContext, user: String) {
        let name = get.topic
        let what = MetaWhat(parsing: get.query.what)
        guard !name.isEmpty, !what.isEmpty else { return reply(ServerMessage.ctrl(.malformed, id: get.id, topic: name), request) }
        if isAttached(request.sessionID, to: topicKey(name, for: user)) {
            return answerQuery(get.query, topic: name, id: get.id, request, user: user)
        }
        // Without attaching, Tinode only describes a topic; data, members and deletions need a subscription.
        guard what.isDisjoint(with: [.data, .sub, .del]), what.contains(.desc) else {
            return reply(ServerMessage.ctrl(.permissionDenied, id: get.id, topic: name), request)
        }
        guard let desc = basicDescription(of: topicKey(name, for: user), for: user) else {
            return reply(ServerMessage.ctrl(.topicNotFound, id: get.id, topic: name), request)
        }
        reply(ServerMessage.meta(id: get.id, topic: name) { $0.desc = desc }, request)
    }
}
