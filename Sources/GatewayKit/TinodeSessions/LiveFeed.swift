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
        let subscription = LiveSubscription(events: events)
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
            if case .dropped = subscriber.continuation.yield(event) {
                subscriber.subscription.end(.cutOff)
                subscriber.continuation.finish()
                onCutOff()
            }
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
    private let reason = Mutex<EndReason?>(nil)

    init(events: AsyncStream<LiveEvent>) {
        self.events = events
    }

    /// Why the feed ended; nil while it runs (or when the subscriber left on its own).
    public var endReason: EndReason? { reason.withLock { $0 } }

    func end(_ why: EndReason) {
        reason.withLock { if $0 == nil { $0 = why } }
    }
}
