/// The connection of one Tinode session as a state machine: a plain value that the session actor
/// runs, telling it what to do (open a stream, resume waiters, back off, reconnect), so that every
/// transition is tested without a stream or a clock.
///
/// `Stream` is the open `MessageLoop` call, `Waiter` a request waiting for the handshake. Each
/// stream has a generation: events of an older stream are ignored, so a late end or reply of a
/// stream that was replaced changes nothing.
struct SessionConnection<Stream, Waiter> {
    enum Phase {
        /// No stream; the next request opens one.
        case idle
        /// A stream is open and its handshake runs; requests wait for it.
        case connecting(Stream, generation: Int, waiters: [Waiter])
        case ready(Stream, generation: Int)
        /// The last attempt failed; requests fail fast until `until`.
        case backingOff(until: ContinuousClock.Instant, error: TinodeSessionError)
        case closed(TinodeSessionError)
    }

    /// What a request must do to get a stream.
    enum Demand {
        /// Use this one.
        case use(Stream, generation: Int)
        /// A handshake runs: wait for it (``wait(_:)``), then ask again.
        case wait
        /// Open a stream of this generation and run its handshake (``opened(_:generation:)``).
        case open(generation: Int)
        case fail(TinodeSessionError)
    }

    /// What a failed handshake leads to.
    enum HandshakeFailure {
        /// The session was closed meanwhile; only the waiters are left to fail.
        case alreadyClosed(waiters: [Waiter])
        /// Logging in again will not help (account gone, token expired, registration refused): close.
        case close(waiters: [Waiter])
        /// Fail fast for `delay`; reconnect then when `reconnect` (live subscribers wait).
        case backOff(waiters: [Waiter], delay: Duration, reconnect: Bool)
    }

    /// What to do with a stream that broke.
    struct Break {
        let stream: Stream
        /// Requests waiting for the handshake, when it broke during one.
        let waiters: [Waiter]
        /// Reconnect after this delay (the stream was in use and live subscribers wait), or not.
        let reconnectAfter: Duration?
    }

    /// What ``close(reason:)`` leaves to end.
    struct Closing {
        let stream: Stream?
        let waiters: [Waiter]
    }

    private(set) var phase = Phase.idle
    /// Streams opened so far; the current one's number.
    private(set) var generation = 0
    private(set) var failedAttempts = 0
    let initialDelay: Duration
    let maximumDelay: Duration

    init(initialDelay: Duration, maximumDelay: Duration) {
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
    }

    var isClosed: Bool {
        if case .closed = phase { return true }
        return false
    }

    /// The stream and its generation while ready.
    var ready: (stream: Stream, generation: Int)? {
        if case .ready(let stream, let generation) = phase { return (stream, generation) }
        return nil
    }

    /// A request wants a stream.
    mutating func demand(now: ContinuousClock.Instant) -> Demand {
        switch phase {
        case .ready(let stream, let generation):
            return .use(stream, generation: generation)
        case .connecting:
            return .wait
        case .backingOff(let until, _) where now < until:
            return .fail(.unavailable(retryAfter: until - now))
        case .backingOff, .idle:
            generation += 1
            return .open(generation: generation)
        case .closed(let reason):
            return .fail(reason)
        }
    }

    /// The stream of ``Demand/open(generation:)`` is open; its handshake starts.
    mutating func opened(_ stream: Stream, generation: Int) {
        guard generation == self.generation, !isClosed else { return }
        phase = .connecting(stream, generation: generation, waiters: [])
    }

    /// Waits for the running handshake; false when none runs any more (ask again at once).
    mutating func wait(_ waiter: Waiter) -> Bool {
        guard case .connecting(let stream, let generation, var waiters) = phase else { return false }
        waiters.append(waiter)
        phase = .connecting(stream, generation: generation, waiters: waiters)
        return true
    }

    /// The handshake of `generation` succeeded: the waiters go on (nil when the session was closed
    /// or the stream replaced meanwhile). `reconnected` is true when this was not the first stream
    /// or attempts had failed before.
    mutating func handshakeSucceeded(generation: Int) -> (waiters: [Waiter], reconnected: Bool)? {
        guard case .connecting(let stream, generation, let waiters) = phase else { return nil }
        let reconnected = failedAttempts > 0 || generation > 1
        phase = .ready(stream, generation: generation)
        failedAttempts = 0
        return (waiters, reconnected)
    }

    /// The handshake of `generation` failed with `failure`. `jitter` (0.8 to 1.2) spreads the
    /// reconnects of many sessions that failed together.
    mutating func handshakeFailed(
        generation: Int, failure: TinodeSessionError, now: ContinuousClock.Instant, subscribers: Bool, jitter: Double
    ) -> HandshakeFailure {
        var waiters: [Waiter] = []
        if case .connecting(_, generation, let waiting) = phase { waiters = waiting }
        if isClosed { return .alreadyClosed(waiters: waiters) }
        switch failure {
        case .authenticationFailed, .evicted, .rejected, .validationRequired:
            phase = .closed(failure)
            return .close(waiters: waiters)
        default:
            failedAttempts += 1
            let delay = backoffDelay(attempt: failedAttempts, jitter: jitter)
            phase = .backingOff(until: now + delay, error: failure)
            return .backOff(waiters: waiters, delay: delay, reconnect: subscribers)
        }
    }

    /// The stream of `generation` broke (it ended, Tinode evicted the session, a heartbeat failed).
    /// Nil when that stream is not the current one or none is in use.
    mutating func streamBroke(generation: Int, subscribers: Bool, jitter: Double) -> Break? {
        guard generation == self.generation else { return nil }
        let result: Break
        switch phase {
        case .ready(let stream, _):
            result = Break(
                stream: stream, waiters: [], reconnectAfter: subscribers ? backoffDelay(attempt: 1, jitter: jitter) : nil)
        case .connecting(let stream, _, let waiters):
            // The handshake fails with the pending requests and backs off on its own.
            result = Break(stream: stream, waiters: waiters, reconnectAfter: nil)
        case .idle, .backingOff, .closed:
            return nil
        }
        self.generation += 1  // anything still coming from the old stream is ignored
        phase = .idle
        return result
    }

    /// Closes for good; nil when closed already.
    mutating func close(reason: TinodeSessionError) -> Closing? {
        let closing: Closing
        switch phase {
        case .ready(let stream, _): closing = Closing(stream: stream, waiters: [])
        case .connecting(let stream, _, let waiters): closing = Closing(stream: stream, waiters: waiters)
        case .idle, .backingOff: closing = Closing(stream: nil, waiters: [])
        case .closed: return nil
        }
        phase = .closed(reason)
        return closing
    }

    /// Whether a background reconnect for live subscribers should run now.
    func reconnectDue(now: ContinuousClock.Instant) -> Bool {
        switch phase {
        case .idle: return true
        case .backingOff(let until, _): return now >= until
        case .connecting, .ready, .closed: return false
        }
    }

    /// Whether a read that failed because its stream broke may run once more: the session is idle
    /// after a break, or already reconnecting (or reconnected) for its live subscribers; backing off
    /// means the reconnect itself failed, which a second try would only repeat.
    var retriesAfterBreak: Bool {
        switch phase {
        case .idle, .connecting, .ready: return true
        case .backingOff, .closed: return false
        }
    }

    /// Exponential backoff, capped, times `jitter`.
    func backoffDelay(attempt: Int, jitter: Double) -> Duration {
        let base = initialDelay * (1 << min(attempt - 1, 16))
        return min(base, maximumDelay) * jitter
    }
}
