import Foundation
import Testing

@testable import SidecarCore

/// What every ``TokenStore`` must do, written once and checked against each implementation.
struct TokenStoreBehaviour {
    let store: any TokenStore
    /// A TTL short enough to wait out in a test.
    let shortTTL: Duration
    /// Lets more than `shortTTL` pass for the store: advancing a test clock, or sleeping for a real server.
    let letShortTTLPass: @Sendable () async throws -> Void

    func putThenGetReturnsTheRecord() async throws {
        let record = makeTokenRecord()
        try await store.put(record, ttl: .seconds(60))
        #expect(try await store.get(accessID: record.accessID) == record)
    }

    func unknownAccessIDReadsAsNil() async throws {
        #expect(try await store.get(accessID: randomID()) == nil)
    }

    func putReplacesTheRecordWithTheSameAccessID() async throws {
        var record = makeTokenRecord()
        try await store.put(record, ttl: .seconds(60))
        // Read once, so that a store that keeps what it read must notice the change.
        #expect(try await store.get(accessID: record.accessID) == record)
        record.tinodeToken = "bmV3IHRva2Vu"
        record.email = nil
        try await store.put(record, ttl: .seconds(60))
        #expect(try await store.get(accessID: record.accessID) == record)
    }

    func deleteRemovesOnlyThatRecord() async throws {
        let userID = "usr" + randomID()
        let first = makeTokenRecord(userID: userID)
        let second = makeTokenRecord(userID: userID)
        try await store.put(first, ttl: .seconds(60))
        try await store.put(second, ttl: .seconds(60))
        try await store.delete(accessID: first.accessID)
        #expect(try await store.get(accessID: first.accessID) == nil)
        #expect(try await store.get(accessID: second.accessID) == second)
        // Deleting again, or deleting something never stored, is not an error.
        try await store.delete(accessID: first.accessID)
        try await store.delete(accessID: randomID())
    }

    func deleteAllRemovesEveryRecordOfTheUserAndCountsThem() async throws {
        let userID = "usr" + randomID()
        let records = (0..<3).map { _ in makeTokenRecord(userID: userID) }
        let otherUser = makeTokenRecord()
        for record in records + [otherUser] {
            try await store.put(record, ttl: .seconds(60))
        }
        try await store.delete(accessID: records[0].accessID)
        #expect(try await store.deleteAll(userID: userID) == 2)
        for record in records {
            #expect(try await store.get(accessID: record.accessID) == nil)
        }
        #expect(try await store.get(accessID: otherUser.accessID) == otherUser)
        #expect(try await store.deleteAll(userID: userID) == 0)
        #expect(try await store.deleteAll(userID: "usr" + randomID()) == 0)
    }

    func expiredRecordReadsAsNil() async throws {
        let record = makeTokenRecord()
        try await store.put(record, ttl: shortTTL)
        #expect(try await store.get(accessID: record.accessID) == record)
        try await letShortTTLPass()
        #expect(try await store.get(accessID: record.accessID) == nil)
    }

    func deleteAllDoesNotCountExpiredRecords() async throws {
        let userID = "usr" + randomID()
        let shortLived = makeTokenRecord(userID: userID)
        let longLived = makeTokenRecord(userID: userID)
        try await store.put(shortLived, ttl: shortTTL)
        try await store.put(longLived, ttl: .seconds(60))
        try await letShortTTLPass()
        #expect(try await store.deleteAll(userID: userID) == 1)
        #expect(try await store.get(accessID: longLived.accessID) == nil)
    }

    func nonPositiveTTLIsRefused() async throws {
        await #expect(throws: TokenStoreError.invalidTTL) {
            try await store.put(makeTokenRecord(), ttl: .zero)
        }
        await #expect(throws: TokenStoreError.invalidTTL) {
            try await store.put(makeTokenRecord(), ttl: .seconds(-1))
        }
    }
}
