import Synchronization

/// Counts each user's open live streams (SSE and WebSocket together) on this instance, so that one
/// user (or one stolen token) cannot hold an unbounded number of subscriptions, buffers and
/// connections. A stream takes a `StreamLease` before anything else is set up and gives it back
/// when it ends; beyond the limit the new stream is refused (429 `too_many_streams`) and the open
/// ones carry on: closing the oldest instead would let two clients of one user evict each other
/// in a loop.
final class StreamQuota: Sendable {
    private let open = Mutex<[String: Int]>([:])

    init() {}

    /// A lease for one more stream of `user`, or nil when the user already holds `limit`.
    func acquire(user: String, limit: Int) -> StreamLease? {
        let granted = open.withLock { open in
            let count = open[user, default: 0]
            guard count < limit else { return false }
            open[user] = count + 1
            return true
        }
        return granted ? StreamLease(quota: self, user: user) : nil
    }

    /// The user's open streams.
    func count(user: String) -> Int {
        open.withLock { $0[user, default: 0] }
    }

    fileprivate func release(user: String) {
        open.withLock { open in
            let count = open[user, default: 0] - 1
            // Forget users without streams: the table holds only users who are streaming.
            open[user] = count > 0 ? count : nil
        }
    }
}

/// One open stream's place in its user's quota: given back once, by `release()` or when the lease
/// is dropped (a stream that never started, an upgrade that never happened).
final class StreamLease: Sendable {
    private let quota: StreamQuota
    private let user: String
    private let released = Atomic(false)

    fileprivate init(quota: StreamQuota, user: String) {
        self.quota = quota
        self.user = user
    }

    func release() {
        guard !released.exchange(true, ordering: .acquiringAndReleasing) else { return }
        quota.release(user: user)
    }

    deinit {
        release()
    }
}
