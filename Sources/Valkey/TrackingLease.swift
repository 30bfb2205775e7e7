import Synchronization

/// How long a value read with ``ValkeyClient/trackedGet(_:)`` is still what the server holds: until
/// the server reports a change of its key, this process changes the key itself
/// (``ValkeyClient/invalidate(_:)``), tracking stops (the invalidation subscription or a connection
/// that read keys closed), or the configured maximum age has passed.
///
/// The client keeps no values. A caller keeps what it read, decoded into whatever it needs, beside
/// the lease, and checks ``isCurrent`` on every use instead of asking the server: an atomic load and
/// a clock read. A lease that is over never runs again; the caller reads the key anew and gets a new
/// lease.
public final class TrackingLease: Sendable {
    private let ended = Atomic<Bool>(false)
    /// The bound for a report that never comes (``ValkeyConfiguration/cachedEntryMaximumAge``).
    private let deadline: ContinuousClock.Instant

    init(maximumAge: Duration) {
        deadline = .now + maximumAge
    }

    /// Whether the value read with this lease may still be used as the server's.
    public var isCurrent: Bool {
        !ended.load(ordering: .acquiring) && ContinuousClock.now < deadline
    }

    /// Ends the lease for good.
    func end() {
        ended.store(true, ordering: .releasing)
    }
}
