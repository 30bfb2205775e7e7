/// Puts the room's messages into `seq` order for the live feed: each seq once, none skipped unless
/// Tinode no longer has it.
///
/// Messages reach a session in any order: live broadcasts, pages fetched after a reconnect (newest
/// first), and the same message by both ways. The tracker delivers a message only when every lower
/// seq was delivered, holds later ones back, and gives up on a missing seq only when a fetch of that
/// range came back without it (deleted messages leave holes in `seq`).
struct SequenceTracker {
    /// The highest seq handed on; nil until the room's current seq is known.
    private(set) var lastDelivered: Int?
    private var waiting: [Int: ChatMessage] = [:]
    /// How many messages may wait for a missing one before the hole is skipped anyway.
    let maximumWaiting: Int

    init(maximumWaiting: Int = 1000) {
        self.maximumWaiting = maximumWaiting
    }

    /// Sets the starting point (the room's seq when the session first joined). Later calls keep the
    /// earlier point: after a reconnect the feed resumes from what was delivered.
    mutating func start(at seq: Int) {
        if lastDelivered == nil { lastDelivered = seq }
    }

    /// True when messages wait for a lower seq that has not arrived.
    var hasHole: Bool { !waiting.isEmpty }

    /// The highest seq seen, delivered or waiting.
    var highestSeen: Int? {
        guard let lastDelivered else { return nil }
        return max(lastDelivered, waiting.keys.max() ?? lastDelivered)
    }

    /// Takes a message; returns those that can now be delivered, in order.
    mutating func accept(_ message: ChatMessage) -> [ChatMessage] {
        guard let last = lastDelivered, message.seq > last else { return [] }
        if message.seq == last + 1, waiting.isEmpty {
            // The usual case in a live room: the next message, nothing held back.
            lastDelivered = message.seq
            return [message]
        }
        waiting[message.seq] = message
        var ready = drain()
        if waiting.count > maximumWaiting, let lowest = waiting.keys.min() {
            ready += skip(through: lowest - 1)
        }
        return ready
    }

    /// Declares every seq up to `seq` that has not arrived as gone, and returns what can then be
    /// delivered, in order.
    mutating func skip(through seq: Int) -> [ChatMessage] {
        guard let last = lastDelivered, seq > last else { return [] }
        var ready: [ChatMessage] = []
        for candidate in (last + 1)...seq {
            if let message = waiting.removeValue(forKey: candidate) { ready.append(message) }
        }
        lastDelivered = seq
        return ready + drain()
    }

    private mutating func drain() -> [ChatMessage] {
        var ready: [ChatMessage] = []
        while let last = lastDelivered, let next = waiting.removeValue(forKey: last + 1) {
            ready.append(next)
            lastDelivered = next.seq
        }
        return ready
    }
}
