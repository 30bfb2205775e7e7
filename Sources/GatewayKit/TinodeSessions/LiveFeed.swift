import Synchronization

/// Fans a user's live events out to that user's subscribers (SSE and WebSocket clients), each
/// through a bounded buffer. A subscriber that falls `bufferSize` events behind is cut off: its
/// sequence ends and `wasCutOff` says why, so the stream to Tinode never waits for it and memory
/// never grows without bound.
final class LiveFeed: Sendable {
    private struct Subscriber {
        let continuation: AsyncStream<LiveEvent>.Continuation
        let subscription: LiveSubscription
    }

    private let subscribers = Mutex<[Int: Subscriber]>([:])
    private let nextID = Mutex(0)
    private let bufferSize: Int
    private let onCutOff: @Sendable () -> Void

    init(bufferSize: Int, onCutOff: @escaping @Sendable () -> Void) {
        self.bufferSize = bufferSize
        self.onCutOff = onCutOff
    }

    var subscriberCount: Int { subscribers.withLock { $0.count } }

    func subscribe() -> LiveSubscription {
        let id = nextID.withLock { value in
            value += 1
            return value
        }
        let (events, continuation) = AsyncStream.makeStream(of: LiveEvent.self, bufferingPolicy: .bufferingOldest(bufferSize))
        let subscription = LiveSubscription(events: events, bufferSize: bufferSize, finish: { continuation.finish() }, onCutOff: onCutOff)
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.removeValue(forKey: id) }
        }
        subscribers.withLock { $0[id] = Subscriber(continuation: continuation, subscription: subscription) }
        return subscription
    }

    func publish(_ event: LiveEvent) {
        // Most sessions have no live client most of the time: no copy, no allocation then.
        let current = subscribers.withLock { $0.isEmpty ? [] : Array($0.values) }
        if current.isEmpty { return }
        for subscriber in current {
            if case .dropped = subscriber.continuation.yield(event) { subscriber.subscription.cutOff() }
        }
    }

    /// Ends every subscription (session closed).
    func finishAll(_ reason: LiveSubscription.EndReason) {
        let current = subscribers.withLock { Array($0.values) }
        for subscriber in current {
            subscriber.subscription.end(reason)
            subscriber.continuation.finish()
        }
    }
}

/// One subscriber's view of a user's live feed.
public final class LiveSubscription: Sendable {
    /// Why the events ended.
    public enum EndReason: Sendable, Equatable {
        /// The subscriber fell too far behind.
        case cutOff
        /// The session closed (logout, eviction, shutdown).
        case sessionClosed
    }

    /// The events, in order. Ends when the subscriber stops iterating or for `endReason`.
    public let events: AsyncStream<LiveEvent>
    /// How many unread events the feed keeps for this subscriber before it cuts it off; a stream
    /// that buffers events further on (SSE, WebSocket) holds no more than this either.
    let bufferSize: Int
    private let reason = Mutex<EndReason?>(nil)
    private let finish: @Sendable () -> Void
    private let onCutOff: @Sendable () -> Void

    init(
        events: AsyncStream<LiveEvent>, bufferSize: Int, finish: @escaping @Sendable () -> Void, onCutOff: @escaping @Sendable () -> Void
    ) {
        self.events = events
        self.bufferSize = bufferSize
        self.finish = finish
        self.onCutOff = onCutOff
    }

    /// Why the feed ended; nil while it runs (or when the subscriber left on its own).
    public var endReason: EndReason? { reason.withLock { $0 } }

    func end(_ why: EndReason) {
        reason.withLock { if $0 == nil { $0 = why } }
    }

    /// Ends the subscription because its reader fell `bufferSize` events behind: in the feed, or
    /// in a buffer of the stream that reads it (a client whose socket stopped taking data). Counted
    /// once, as a cut-off, whichever noticed first.
    func cutOff() {
        let first = reason.withLock { reason in
            guard reason == nil else { return false }
            reason = .cutOff
            return true
        }
        guard first else { return }
        finish()
        onCutOff()
    }

    /// Leaves the feed (the stream ended, or never started): the feed forgets the subscriber at once
    /// rather than buffering for it until the session closes.
    func cancel() {
        finish()
    }
}
