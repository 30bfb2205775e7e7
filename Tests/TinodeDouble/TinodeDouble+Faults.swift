/// Fault knobs: ways to make the double misbehave the way a real server or network can.
extension TinodeDouble {
    /// Every stream of the user gets ctrl 205 "evicted" (no id, no topic), then goes half-dead:
    /// nothing more is sent and the call stays open until the client sends something, which ends
    /// it with status OK and no reply.
    public func evict(user uid: String) {
        let now = world.now()
        world.state.withLock { state in
            state.evictSessions(of: uid, now: now)
            state.settle(now: now)
        }
    }

    /// The user's streams go half-dead without any message, as when Tinode's writer fails.
    public func goHalfDead(user uid: String) {
        let now = world.now()
        world.state.withLock { state in
            state.silenceSessions(of: uid, now: now)
            state.settle(now: now)
        }
    }

    /// Delays every message to any stream (ctrl, meta, data, pres, info) by a random amount in the
    /// range, drawn per message, so one stream's messages may arrive out of order. An eviction's 205
    /// is delayed too, and whatever is still waiting when it goes out is dropped. nil turns it off.
    public func setReplyDelay(_ delay: ClosedRange<Duration>?) {
        world.state.withLock { $0.faults.replyDelay = delay }
    }

    /// The next `count` client messages of `kind` ("pub", "get", ...) are processed as usual (a
    /// dropped pub is stored and fanned out to others) but their stream gets nothing back for them.
    public func dropNextReplies(kind: String, count: Int) {
        world.state.withLock { $0.faults.droppedReplies[kind, default: 0] += count }
    }

    /// Queues every message to the user's streams until `releaseReplies(user:)`.
    public func holdReplies(user uid: String) {
        world.state.withLock { _ = $0.faults.heldUsers.insert(uid) }
    }

    /// Sends what was held, per stream in reverse order: deterministic reordering for tests.
    public func releaseReplies(user uid: String) {
        world.state.withLock { state in
            state.faults.heldUsers.remove(uid)
            for sessionID in (state.sessionIDsByUser[uid] ?? []).sorted() {
                state.sessions[sessionID]?.outbox.release()
            }
        }
    }
}
