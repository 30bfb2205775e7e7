/// A ``TokenStore`` inside the process, for trying the programs without Valkey.
///
/// Nothing survives a restart and nothing is shared between processes, so production deployments use
/// ``ValkeyTokenStore``. Expiry is checked against the clock on every read; expired records are also
/// swept out whenever a write finds the last sweep older than `purgeInterval`, so memory stays bounded by
/// the live records plus what one interval's writes can add, without a background task.
public actor InMemoryTokenStore: TokenStore {
    private struct Entry {
        var record: TokenRecord
        /// Time since the store was created, on the store's clock.
        var expiresAt: Duration
    }

    private var entries: [String: Entry] = [:]
    private var accessIDsByUser: [String: Set<String>] = [:]
    private let elapsed: @Sendable () -> Duration
    private let purgeInterval: Duration
    private var lastPurge: Duration = .zero

    /// - Parameters:
    ///   - clock: Decides when records expire; tests pass a clock they can advance.
    ///   - purgeInterval: Least time between two sweeps of expired records.
    public init(clock: some Clock<Duration> = ContinuousClock(), purgeInterval: Duration = .seconds(60)) {
        let start = clock.now
        self.elapsed = { start.duration(to: clock.now) }
        self.purgeInterval = purgeInterval
    }

    public func put(_ record: TokenRecord, ttl: Duration) async throws {
        guard ttl > .zero else { throw TokenStoreError.invalidTTL }
        let now = elapsed()
        purgeIfDue(now: now)
        if let previous = entries[record.accessID], previous.record.userID != record.userID {
            unindex(accessID: record.accessID, userID: previous.record.userID)
        }
        entries[record.accessID] = Entry(record: record, expiresAt: now + ttl)
        accessIDsByUser[record.userID, default: []].insert(record.accessID)
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

    public func deleteAll(userID: String) async throws -> Int {
        let now = elapsed()
        let accessIDs = accessIDsByUser.removeValue(forKey: userID) ?? []
        var removed = 0
        for accessID in accessIDs {
            if let entry = entries.removeValue(forKey: accessID), entry.expiresAt > now {
                removed += 1
            }
        }
        return removed
    }

    /// How many records are held, expired ones not yet swept included (for tests and diagnostics).
    public var storedRecordCount: Int { entries.count }

    private func remove(accessID: String) {
        if let entry = entries.removeValue(forKey: accessID) {
            unindex(accessID: accessID, userID: entry.record.userID)
        }
    }

    private func unindex(accessID: String, userID: String) {
        accessIDsByUser[userID]?.remove(accessID)
        if accessIDsByUser[userID]?.isEmpty == true {
            accessIDsByUser[userID] = nil
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
