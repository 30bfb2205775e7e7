import Foundation
import TinodeProto

/// `{set}`: the `fnd` query (fixture f), the user's public data and tags on `me`, a group's
/// description and tags by those who manage it, one's own wanted access, and a new credential on `me`
/// (fixture i).
extension WorldState {
    mutating func set(_ set: Pbx_ClientSet, _ request: RequestContext, user: String) {
        let name = set.topic
        let query = set.query
        guard !name.isEmpty, set.hasQuery else { return reply(ServerMessage.ctrl(.malformed, id: set.id, topic: name), request) }
        let key = topicKey(name, for: user)
        guard isAttached(request.sessionID, to: key) else {
            return reply(ServerMessage.ctrl(.mustAttachFirst, id: set.id, topic: name), request)
        }
        let tags = Tags.normalize(query.tags)
        switch name {
        case "fnd":
            if query.hasDesc {
                sessions[request.sessionID]!.findQuery = JSONValue.parse(query.desc.public)?.stringValue
            }
        case "me":
            guard !tags.contains(where: Tags.isRestricted) else {
                return reply(ServerMessage.ctrl(.permissionDenied, id: set.id, topic: name, params: ServerMessage.what("tags")), request)
            }
            if query.hasDesc, let publicJSON = GoJSON.reencode(query.desc.public) {
                users[user]!.publicJSON = publicJSON
                users[user]!.updatedAt = request.now
            }
            if !query.tags.isEmpty {
                // Tags from authenticators stay; the client's own replace the rest.
                users[user]!.tags = users[user]!.tags.filter(Tags.isRestricted) + tags
            }
            if query.hasCred { addCredential(query.cred, to: user, now: request.now) }
        default:
            guard let mode = topics[key]?.subscriptions[user]?.access.mode else {
                return reply(ServerMessage.ctrl(.permissionDenied, id: set.id, topic: name), request)
            }
            if query.hasDesc || !query.tags.isEmpty {
                guard mode.allows("O") || mode.allows("A") else {
                    return reply(ServerMessage.ctrl(.permissionDenied, id: set.id, topic: name), request)
                }
                updateGroup(key, desc: query.hasDesc ? query.desc : nil, tags: query.tags.isEmpty ? nil : tags, now: request.now)
            }
            if query.hasSub, query.sub.userID.isEmpty || query.sub.userID == user, !query.sub.mode.isEmpty {
                topics[key]!.subscriptions[user]!.access.want = AccessMode(query.sub.mode)
                topics[key]!.subscriptions[user]!.updatedAt = request.now
            }
        }
        reply(ServerMessage.ctrl(.ok, id: set.id, topic: name), request)
    }

    private mutating func updateGroup(_ name: String, desc: Pbx_SetDesc?, tags: [String]?, now: Int64) {
        if let desc {
            if let publicJSON = GoJSON.reencode(desc.public) { topics[name]!.publicJSON = publicJSON }
            if desc.hasDefaultAcs {
                if !desc.defaultAcs.auth.isEmpty { topics[name]!.defaultAccess.auth = AccessMode(desc.defaultAcs.auth) }
                if !desc.defaultAcs.anon.isEmpty { topics[name]!.defaultAccess.anon = AccessMode(desc.defaultAcs.anon) }
            }
            topics[name]!.updatedAt = now
        }
        if let tags { topics[name]!.tags = tags }
    }
}
