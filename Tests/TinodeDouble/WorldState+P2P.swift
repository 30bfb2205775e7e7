import Foundation
import TinodeProto

/// p2p topics (fixture j): `{sub usr<peer>}` creates the topic on first use, for both users at once.
/// Each side names it by the other's id, in every message; the topic carries no presence of its own,
/// the users learn about each other on `me`.
extension WorldState {
    /// Tinode's access for p2p subscriptions: everything but sharing, which means nothing between two.
    static let p2pAccess = AccessMode("JRWPAD")

    /// The key behind a name as `user` uses it: `usr<peer>` is the p2p topic with that peer.
    func topicKey(_ name: String, for user: String) -> String {
        guard TinodeID.userNumber(name) != nil, name != user else { return name }
        return TopicKey.p2p(user, name)
    }

    /// The name `user` knows a topic by: the other user's id for p2p, the key itself otherwise.
    func topicName(_ key: String, for user: String) -> String {
        guard let (one, other) = TopicKey.p2pUsers(key) else { return key }
        return one == user ? other : one
    }

    /// A user is online while one of their sessions is attached to `me`.
    func isOnline(user: String) -> Bool {
        (sessionIDsByUser[user] ?? []).contains { sessions[$0]?.attached.contains("me") == true }
    }

    /// Online as `user` sees the topic: for p2p, whether the peer is.
    func isOnline(_ key: String, for user: String) -> Bool {
        guard let topic = topics[key] else { return false }
        return topic.isP2P ? isOnline(user: topicName(key, for: user)) : topic.isOnline
    }

    /// Reply order of fixture j: ctrl 200 (`acs` only when the topic is new, never `tmpname`), meta
    /// desc, the subscriber's `pres me ON` about an online peer, meta sub, the data part. A new topic
    /// gives the peer's `me` sessions `pres ACS` (their own access, the subscriber as actor) and `ON`.
    mutating func subscribeP2P(_ sub: Pbx_ClientSub, _ request: RequestContext, user: String) {
        let peer = sub.topic
        guard peer != user, let peerRecord = users[peer], !peerRecord.isDeleted else {
            return reply(ServerMessage.ctrl(.userNotFound, id: sub.id, topic: peer), request)
        }
        let key = TopicKey.p2p(user, peer)
        guard !isAttached(request.sessionID, to: key) else {
            return reply(ServerMessage.ctrl(.alreadySubscribed, id: sub.id, topic: peer), request)
        }
        var params: [String: Data] = [:]
        var peerAccess: AccessPair?
        if topics[key] == nil {
            let now = request.now
            var topic = TopicRecord(
                name: key, owner: "", createdAt: now, updatedAt: now, touchedAt: now, publicJSON: nil,
                defaultAccess: DefaultAccess(auth: Self.p2pAccess, anon: .none), tags: [])
            // The subscriber is given what the peer gives everyone; the peer gets the p2p default.
            let access = AccessPair(want: Self.p2pAccess, given: peerRecord.defaultAccess.auth)
            let granted = AccessPair(want: Self.p2pAccess, given: Self.p2pAccess)
            topic.subscriptions[user] = SubscriptionRecord(access: access, createdAt: now, updatedAt: now)
            topic.subscriptions[peer] = SubscriptionRecord(access: granted, createdAt: now, updatedAt: now)
            topic.subscriberOrder = [user, peer]
            topics[key] = topic
            for member in [user, peer] {
                users[member]?.groups.append(key)
                users[member]?.unsubscribed[key] = nil
            }
            params["acs"] = access.json
            peerAccess = granted
        }
        guard topics[key]!.subscriptions[user] != nil else {
            return reply(ServerMessage.ctrl(.permissionDenied, id: sub.id, topic: peer), request)
        }
        attach(request.sessionID, to: key, user: user)
        reply(ServerMessage.ctrl(.ok, id: sub.id, topic: peer, params: params), request)
        let announcePeer = peerAccess != nil && isOnline(user: peer)
        if sub.hasGetQuery {
            answerQuery(sub.getQuery, topic: peer, id: sub.id, request, user: user, announceOnlineAfterDescription: announcePeer)
        } else if announcePeer {
            announceOnMe(to: user, src: peer, what: .on, for: request)
        }
        if let peerAccess {
            announceOnMe(to: peer, src: user, what: .acs, actor: user, acs: peerAccess, for: request)
            if isOnline(user: user) { announceOnMe(to: peer, src: user, what: .on, for: request) }
        }
    }
}
