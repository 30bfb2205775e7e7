import TinodeProto

/// Sessions coming and going: opening, login, attaching to topics, half-dead phases and eviction.
extension WorldState {
    mutating func openSession(outbox: Outbox, stopSignal: StopSignal, remoteAddress: String) -> Int? {
        guard acceptsStreams else { return nil }
        let id = nextSessionID
        nextSessionID += 1
        sessions[id] = SessionRecord(id: id, outbox: outbox, stopSignal: stopSignal, remoteAddress: remoteAddress)
        return id
    }

    /// The call ended: the session leaves its topics (others see it go offline) and is forgotten.
    mutating func closeSession(_ id: Int, now: Int64) {
        guard let session = sessions[id] else { return }
        for topic in session.attached { detach(id, from: topic) }
        if let user = session.userID { sessionIDsByUser[user]?.remove(id) }
        sessions[id] = nil
        settle(now: now)
    }

    mutating func authenticate(_ sessionID: Int, as user: String, level: AuthLevel) {
        sessions[sessionID]?.userID = user
        sessions[sessionID]?.authLevel = level
        sessionIDsByUser[user, default: []].insert(sessionID)
    }

    /// Attaches a session to "me", "fnd" or a group. Returns true when it is the user's first session
    /// attached to that group, which is when Tinode tells others the user came online there.
    @discardableResult
    mutating func attach(_ sessionID: Int, to topic: String, user: String) -> Bool {
        sessions[sessionID]?.attached.insert(topic)
        guard topics[topic] != nil else { return false }
        topics[topic]!.attachedSessions.insert(sessionID)
        topics[topic]!.attachedCountByUser[user, default: 0] += 1
        return topics[topic]!.attachedCountByUser[user] == 1
    }

    /// Detaches a session; when it was the user's last one in a group, the others get `pres OFF`.
    mutating func detach(_ sessionID: Int, from topic: String) {
        sessions[sessionID]?.attached.remove(topic)
        guard let user = sessions[sessionID]?.userID, topics[topic]?.attachedSessions.remove(sessionID) != nil else { return }
        let remaining = (topics[topic]!.attachedCountByUser[user] ?? 1) - 1
        topics[topic]!.attachedCountByUser[user] = remaining > 0 ? remaining : nil
        if remaining == 0 {
            announceInGroup(topic, about: user, what: .off, excluding: sessionID)
        }
    }

    /// The server side stops writing; the stream stays open until the client sends again
    /// (fixtures h1/h2). The session leaves its topics now, so it gets no further fan-out.
    mutating func makeHalfDead(_ sessionID: Int, now: Int64) {
        guard let session = sessions[sessionID], !session.isHalfDead else { return }
        session.outbox.halt()
        sessions[sessionID]!.isHalfDead = true
        for topic in session.attached { detach(sessionID, from: topic) }
    }

    /// Every stream of the user gets ctrl 205 "evicted" (no id, no topic), then goes half-dead.
    mutating func evictSessions(of user: String, now: Int64) {
        for sessionID in (sessionIDsByUser[user] ?? []).sorted() {
            guard let session = sessions[sessionID], !session.isHalfDead else { continue }
            send(ServerMessage.ctrl(.evicted, id: ""), to: sessionID, for: nil, isFinal: true)
            sessions[sessionID]!.isHalfDead = true
            for topic in session.attached { detach(sessionID, from: topic) }
        }
    }

    /// Half-dead without any message, as after a writer failure.
    mutating func silenceSessions(of user: String, now: Int64) {
        for sessionID in (sessionIDsByUser[user] ?? []).sorted() {
            makeHalfDead(sessionID, now: now)
        }
    }
}
