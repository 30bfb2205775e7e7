/// A ``TokenStore`` inside the process, for trying the programs without Valkey.
///
/// Nothing survives a restart and nothing is shared between processes, so production deployments use
/// ``ValkeyTokenStore``. Expiry is checked against the clock on every read; expired records are also
/// swept out whenever a write finds the last sweep older than `purgeInterval`, so memory stays bounded by
/// the live records plus what one interval's writes can add, without a background task. Refresh
/// families live in their own store here, so revoking a login removes its records only; the Gateway
/// revokes the family beside it.
public actor InMemoryTokenStore: TokenStore {
    private struct Entry {
        var record: TokenRecord
        /// Time since the store was created, on the store's clock.
        var expiresAt: Duration
        var family: String { record.refreshFamilyID ?? record.accessID }
    }

    private var entries: [String: Entry] = [:]
    private var accessIDsByFamily: [String: Set<String>] = [:]
    /// Each user's logins, oldest first.
    private var loginsByUser: [String: [String]] = [:]
    private let elapsed: @Sendable () -> Duration
    private let purgeInterval: Duration
    private let maximumLogins: Int
    private var lastPurge: Duration = .zero

    /// - Parameters:
    ///   - clock: Decides when records expire; tests pass a clock they can advance.
    ///   - purgeInterval: Least time between two sweeps of expired records.
    ///   - maximumLogins: Logins a user keeps; the oldest is revoked beyond it.
    public init(clock: some Clock<Duration> = ContinuousClock(), purgeInterval: Duration = .seconds(60), maximumLogins: Int = 100) {
        let start = clock.now
        self.elapsed = { start.duration(to: clock.now) }
        self.purgeInterval = purgeInterval
        self.maximumLogins = max(1, maximumLogins)
    }

    public func put(_ record: TokenRecord, ttl: Duration) async throws {
        guard ttl > .zero else { throw TokenStoreError.invalidTTL }
        let now = elapsed()
        purgeIfDue(now: now)
        remove(accessID: record.accessID)
        let entry = Entry(record: record, expiresAt: now + ttl)
        entries[record.accessID] = entry
        accessIDsByFamily[entry.family, default: []].insert(record.accessID)
        var logins = loginsByUser[record.userID, default: []]
        if !logins.contains(entry.family) { logins.append(entry.family) }
        while logins.count > maximumLogins {
            let oldest = logins.removeFirst()
            _ = removeFamily(oldest, now: now)
        }
        loginsByUser[record.userID] = logins
    }

    public func get(accessID: String) async throws -> TokenRecord? {
        guard let entry = entries[accessID] else { return nil }
        guard entry.expiresAt > elapsed() else {
            remove(accessID: accessID)
            return nil
        }
        return entry.record
    }

    public func delete(accessID: String) async throws {
        remove(accessID: accessID)
    }

    public func revokeFamily(_ familyID: String, userID: String) async throws -> Int {
        loginsByUser[userID]?.removeAll { $0 == familyID }
        if loginsByUser[userID]?.isEmpty == true { loginsByUser[userID] = nil }
        return removeFamily(familyID, now: elapsed())
    }

    public func retireFamily(_ familyID: String, except keep: String, within grace: Duration) async throws {
        let deadline = elapsed() + grace
        for accessID in accessIDsByFamily[familyID] ?? [] where accessID != keep {
            if let entry = entries[accessID], entry.expiresAt > deadline {
                entries[accessID]?.expiresAt = deadline
            }
        }
    }

    public func deleteAll(userID: String) async throws -> Int {
        let now = elapsed()
        var removed = 0
        for family in loginsByUser.removeValue(forKey: userID) ?? [] {
            removed += removeFamily(family, now: now)
        }
        return removed
    }

    /// How many records are held, expired ones not yet swept included (for tests and diagnostics).
    public var storedRecordCount: Int { entries.count }

    /// Removes a family's records; returns how many were still live.
    private func removeFamily(_ family: String, now: Duration) -> Int {
        var removed = 0
        for accessID in accessIDsByFamily.removeValue(forKey: family) ?? [] {
            if let entry = entries.removeValue(forKey: accessID), entry.expiresAt > now { removed += 1 }
        }
        return removed
    }

    private func remove(accessID: String) {
        guard let entry = entries.removeValue(forKey: accessID) else { return }
        accessIDsByFamily[entry.family]?.remove(accessID)
        if accessIDsByFamily[entry.family]?.isEmpty == true {
            accessIDsByFamily[entry.family] = nil
            loginsByUser[entry.record.userID]?.removeAll { $0 == entry.family }
            if loginsByUser[entry.record.userID]?.isEmpty == true { loginsByUser[entry.record.userID] = nil }
        }
    }

    private func purgeIfDue(now: Duration) {
        guard now - lastPurge >= purgeInterval else { return }
        lastPurge = now
        for (accessID, entry) in entries where entry.expiresAt <= now {
            remove(accessID: accessID)
        }
    }
}
