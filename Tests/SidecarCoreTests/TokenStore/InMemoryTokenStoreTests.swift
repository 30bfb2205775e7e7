import Testing

@testable import SidecarCore

@Suite("In-memory token store")
struct InMemoryTokenStoreTests {
    let clock = TokenStoreTestClock()
    let store: InMemoryTokenStore
    let behaviour: TokenStoreBehaviour

    init() {
        let clock = self.clock
        store = InMemoryTokenStore(clock: clock, purgeInterval: .seconds(60))
        behaviour = TokenStoreBehaviour(store: store, shortTTL: .seconds(1)) {
            clock.advance(by: .milliseconds(1_001))
        }
    }

    @Test("put then get returns the record")
    func putThenGet() async throws { try await behaviour.putThenGetReturnsTheRecord() }

    @Test("an unknown access id reads as nil")
    func unknown() async throws { try await behaviour.unknownAccessIDReadsAsNil() }

    @Test("put replaces the record with the same access id")
    func replace() async throws { try await behaviour.putReplacesTheRecordWithTheSameAccessID() }

    @Test("delete removes only that record")
    func delete() async throws { try await behaviour.deleteRemovesOnlyThatRecord() }

    @Test("deleteAll removes every record of the user and counts them")
    func deleteAll() async throws { try await behaviour.deleteAllRemovesEveryRecordOfTheUserAndCountsThem() }

    @Test("an expired record reads as nil")
    func expiry() async throws { try await behaviour.expiredRecordReadsAsNil() }

    @Test("deleteAll does not count expired records")
    func deleteAllExpired() async throws { try await behaviour.deleteAllDoesNotCountExpiredRecords() }

    @Test("a TTL of zero or less is refused")
    func badTTL() async throws { try await behaviour.nonPositiveTTLIsRefused() }

    @Test("a record lives exactly as long as its TTL")
    func expiryBoundary() async throws {
        let record = makeTokenRecord()
        try await store.put(record, ttl: .seconds(10))
        clock.advance(by: .milliseconds(9_999))
        #expect(try await store.get(accessID: record.accessID) == record)
        clock.advance(by: .milliseconds(1))
        #expect(try await store.get(accessID: record.accessID) == nil)
    }

    @Test("expired records nobody reads again are purged, so memory stays bounded")
    func purge() async throws {
        for _ in 0..<100 {
            try await store.put(makeTokenRecord(), ttl: .seconds(5))
        }
        #expect(await store.storedRecordCount == 100)
        clock.advance(by: .seconds(61))
        let live = makeTokenRecord()
        try await store.put(live, ttl: .seconds(5))
        #expect(await store.storedRecordCount == 1)
        #expect(try await store.get(accessID: live.accessID) == live)
    }
}
