import Foundation
import Synchronization

/// New `basic` accounts seen in FireHose (`{acc user:"new..."}` with an `email` credential), by
/// login name, until Tinode's `Account` CREATE event names the uid.
///
/// Tinode's `Account` event carries the new user's tags (`basic:<login>`) but not its credentials,
/// and its `email:` tag only appears once the address is validated (tinode-protocol.md 8). So the
/// address is remembered here for a while, in this process only: Tinode sends a session's FireHose
/// calls and the later Account event to the same plugin address.
final class PendingRegistrations: Sendable {
    private struct Entry {
        let email: String
        let expires: ContinuousClock.Instant
    }

    private let entries = Mutex<[String: Entry]>([:])
    private let capacity: Int
    private let lifetime: Duration

    init(capacity: Int = 10_000, lifetime: Duration = .seconds(600)) {
        self.capacity = capacity
        self.lifetime = lifetime
    }

    /// Remembers that `login` (lower-cased by the caller) is being created with `email`.
    func record(login: String, email: String) {
        let now = ContinuousClock.now
        let lifetime = self.lifetime
        let capacity = self.capacity
        entries.withLock { entries in
            if entries.count >= capacity {
                entries = entries.filter { $0.value.expires > now }
                // Still full of live entries: forget the one closest to expiry.
                if entries.count >= capacity, let oldest = entries.min(by: { $0.value.expires < $1.value.expires })?.key {
                    entries.removeValue(forKey: oldest)
                }
            }
            entries[login] = Entry(email: email, expires: now + lifetime)
        }
    }

    /// The address recorded for `login`, removing it; nil when unknown or expired.
    func take(login: String) -> String? {
        let now = ContinuousClock.now
        return entries.withLock { entries in
            guard let entry = entries.removeValue(forKey: login), entry.expires > now else { return nil }
            return entry.email
        }
    }
}
