import Foundation
import TinodeProto

/// `{sub}`: attaching to `me` and `fnd`, creating groups (`new...`) and joining them (fixtures d, e,
/// f, k, l); p2p topics are in WorldState+P2P.swift.
extension WorldState {
    mutating func subscribe(_ sub: Pbx_ClientSub, _ request: RequestContext, user: String) {
        let name = sub.topic
        switch TopicKind(name) {
        case .empty:
            reply(ServerMessage.ctrl(.malformed, id: sub.id), request)
        case .me, .find:
            guard !isAttached(request.sessionID, to: name) else {
                return reply(ServerMessage.ctrl(.alreadySubscribed, id: sub.id, topic: name), request)
            }
            // The user's first session on `me` loads it; it then learns which topics are online and
            // says so, one `pres` each, after its answer (fixture l). Later sessions hear nothing (k).
            let loadsMe = name == "me" && !isOnline(user: user)
            attach(request.sessionID, to: name, user: user)
            reply(ServerMessage.ctrl(.ok, id: sub.id, topic: name), request)
            if sub.hasGetQuery { answerQuery(sub.getQuery, topic: name, id: sub.id, request, user: user, loadingMe: loadsMe) }
            if loadsMe { announceOnlineTopics(to: request.sessionID, user: user, request) }
        case .newGroup:
            createGroup(sub, request, user: user)
        case .group:
            joinGroup(sub, request, user: user)
        case .p2p:
            subscribeP2P(sub, request, user: user)
        case .unsupported:
            reply(ServerMessage.ctrl(.notImplemented, id: sub.id, topic: name), request)
        case .unknown:
            reply(ServerMessage.ctrl(.topicNotFound, id: sub.id, topic: name), request)
        }
    }

    func isAttached(_ sessionID: Int, to topic: String) -> Bool {
        sessions[sessionID]?.attached.contains(topic) ?? false
    }

    /// Reply order of fixture d: ctrl 200 (real name, `acs`, `tmpname`), meta desc, the `me` presence
    /// that the new topic is online, meta sub, then the data part (204 on an empty topic).
    private mutating func createGroup(_ sub: Pbx_ClientSub, _ request: RequestContext, user: String) {
        let query = sub.setQuery
        let name = createGroupRecord(
            owner: user, now: request.now, publicJSON: GoJSON.reencode(query.desc.public),
            defaultAccess: query.desc.hasDefaultAcs ? query.desc.defaultAcs : nil, tags: Tags.normalize(query.tags),
            ownerPrivateJSON: GoJSON.reencode(query.desc.private))
        attach(request.sessionID, to: name, user: user)
        let access = topics[name]!.subscriptions[user]!.access
        let params = ["acs": access.json, "tmpname": GoJSON.string(sub.topic)]
        reply(ServerMessage.ctrl(.ok, id: sub.id, topic: name, params: params), request)
        if sub.hasGetQuery {
            answerQuery(sub.getQuery, topic: name, id: sub.id, request, user: user, announceOnlineAfterDescription: true)
        } else {
            announceOnMe(to: user, src: name, what: .on, for: request)
        }
    }

    /// Creates a group owned by `owner` (mode JRWPASDO); default access auth JRWP, anon N unless given.
    mutating func createGroupRecord(
        owner: String, now: Int64, publicJSON: Data?, defaultAccess: Pbx_DefaultAcsMode?, tags: [String], ownerPrivateJSON: Data? = nil
    ) -> String {
        let name = newGroupName()
        var access = DefaultAccess(auth: AccessMode("JRWP"), anon: .none)
        if let defaultAccess {
            if !defaultAccess.auth.isEmpty { access.auth = AccessMode(defaultAccess.auth) }
            if !defaultAccess.anon.isEmpty { access.anon = AccessMode(defaultAccess.anon) }
        }
        var group = TopicRecord(
            name: name, owner: owner, createdAt: now, updatedAt: now, touchedAt: now, publicJSON: publicJSON, defaultAccess: access,
            tags: tags)
        let full = AccessMode("JRWPASDO")
        var subscription = SubscriptionRecord(access: AccessPair(want: full, given: full), createdAt: now, updatedAt: now)
        subscription.privateJSON = ownerPrivateJSON
        group.subscriptions[owner] = subscription
        group.subscriberOrder.append(owner)
        topics[name] = group
        users[owner]?.groups.append(name)
        return name
    }

    /// Reply order of fixture e: ctrl 200 (`acs` only for a new subscription), meta desc, meta sub,
    /// data part; the members already attached get `pres ACS` and `pres ON`; last, when the
    /// subscription is new, the joiner's sessions on `me` hear that the topic is online (an existing
    /// one is known to `me` already: fixture l).
    private mutating func joinGroup(_ sub: Pbx_ClientSub, _ request: RequestContext, user: String) {
        let name = sub.topic
        guard topics[name] != nil else { return reply(ServerMessage.ctrl(.topicNotFound, id: sub.id, topic: name), request) }
        guard !isAttached(request.sessionID, to: name) else {
            return reply(ServerMessage.ctrl(.alreadySubscribed, id: sub.id, topic: name), request)
        }
        var params: [String: Data] = [:]
        var newAccess: AccessPair?
        if topics[name]!.subscriptions[user] == nil {
            let mode = topics[name]!.defaultAccess.auth
            guard mode.allows("J") else { return reply(ServerMessage.ctrl(.permissionDenied, id: sub.id, topic: name), request) }
            let access = AccessPair(want: mode, given: mode)
            topics[name]!.subscriptions[user] = SubscriptionRecord(access: access, createdAt: request.now, updatedAt: request.now)
            topics[name]!.subscriberOrder.append(user)
            users[user]?.groups.append(name)
            users[user]?.unsubscribed[name] = nil
            params["acs"] = access.json
            newAccess = access
        }
        let cameOnline = attach(request.sessionID, to: name, user: user)
        reply(ServerMessage.ctrl(.ok, id: sub.id, topic: name, params: params), request)
        if sub.hasGetQuery { answerQuery(sub.getQuery, topic: name, id: sub.id, request, user: user) }
        if let newAccess { announceInGroup(name, about: user, what: .acs, acs: newAccess, excluding: request.sessionID) }
        if cameOnline { announceInGroup(name, about: user, what: .on, excluding: request.sessionID) }
        if newAccess != nil { announceOnMe(to: user, src: name, what: .on, for: request) }
    }
}
