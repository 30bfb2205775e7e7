import TinodeProto

/// Presence fan-out (`pres`), as fixtures d, e, j, k and l show it.
extension WorldState {
    /// A `pres` on `me` for each of the user's sessions attached to `me`, except those attached to
    /// `skippingAttachedTo` (they get the topic's own messages instead).
    mutating func announceOnMe(
        to user: String, src: String, what: Pbx_ServerPres.What, seq: Int = 0, actor: String = "", acs: AccessPair? = nil,
        skippingAttachedTo skipped: String? = nil, excluding excludedID: Int? = nil, for request: RequestContext?
    ) {
        guard let sessionIDs = sessionIDsByUser[user], !sessionIDs.isEmpty else { return }
        let message = ServerMessage.pres(topic: "me", src: src, what: what, seq: seq, actor: actor, acs: acs)
        for sessionID in sessionIDs.sorted() where sessionID != excludedID {
            guard let attached = sessions[sessionID]?.attached, attached.contains("me") else { continue }
            if let skipped, attached.contains(skipped) { continue }
            send(message, to: sessionID, for: request)
        }
    }

    /// A `pres` in a group about `user` (`src` = the user) for the other sessions attached to it:
    /// ON/OFF to members with presence rights (P), ACS to those who manage access. A p2p topic has
    /// none: its users hear of each other on `me` (fixture j).
    mutating func announceInGroup(
        _ topic: String, about user: String, what: Pbx_ServerPres.What, acs: AccessPair? = nil, excluding excludedID: Int
    ) {
        guard let group = topics[topic], !group.isP2P else { return }
        let message = ServerMessage.pres(topic: topic, src: user, what: what, acs: acs)
        for sessionID in group.attachedSessions where sessionID != excludedID {
            guard let receiver = sessions[sessionID]?.userID, let mode = group.subscriptions[receiver]?.access.mode else { continue }
            let allowed = what == .acs ? mode.isSharer : mode.allows("P")
            if allowed { send(message, to: sessionID, for: nil) }
        }
    }
}
