import Foundation
import Testing
import Valkey

@testable import SidecarCore

@Suite("Valkey token store")
struct ValkeyTokenStoreTests {
    /// Runs `body` against a store with its own key prefix on the shared test server.
    private func withStore(
        maximumLogins: Int = 100, _ body: (ValkeyTokenStore, ValkeyClient, String) async throws -> Void
    ) async throws {
        let client = ValkeyClient(configuration: try TokenStoreTestServer.configuration())
        let prefix = "token-store-tests:\(UUID().uuidString):"
        do {
            try await body(ValkeyTokenStore(client: client, keyPrefix: prefix, maximumLogins: maximumLogins), client, prefix)
            await client.shutdown()
        } catch {
            await client.shutdown()
            throw error
        }
    }

    private func withBehaviour(_ body: (TokenStoreBehaviour) async throws -> Void) async throws {
        try await withStore { store, _, _ in
            try await body(
                // A TTL long enough that a machine busy with other tests still reads the record before
                // it expires.
                TokenStoreBehaviour(store: store, shortTTL: .seconds(1)) {
                    try await Task.sleep(for: .milliseconds(1_600))
                })
        }
    }

    @Test("put then get returns the record")
    func putThenGet() async throws { try await withBehaviour { try await $0.putThenGetReturnsTheRecord() } }

    @Test("an unknown access id reads as nil")
    func unknown() async throws { try await withBehaviour { try await $0.unknownAccessIDReadsAsNil() } }

    @Test("put replaces the record with the same access id")
    func replace() async throws { try await withBehaviour { try await $0.putReplacesTheRecordWithTheSameAccessID() } }

    @Test("delete removes only that record")
    func delete() async throws { try await withBehaviour { try await $0.deleteRemovesOnlyThatRecord() } }

    @Test("deleteAll removes every record of the user and counts them")
    func deleteAll() async throws {
        try await withBehaviour { try await $0.deleteAllRemovesEveryRecordOfTheUserAndCountsThem() }
    }

    @Test("an expired record reads as nil")
    func expiry() async throws { try await withBehaviour { try await $0.expiredRecordReadsAsNil() } }

    @Test("deleteAll does not count expired records")
    func deleteAllExpired() async throws {
        try await withBehaviour { try await $0.deleteAllDoesNotCountExpiredRecords() }
    }

    @Test("a TTL of zero or less is refused")
    func badTTL() async throws { try await withBehaviour { try await $0.nonPositiveTTLIsRefused() } }

    @Test("keys live under the prefix; the record expires with PX, its login's set and the user's logins outlive it")
    func keyLayout() async throws {
        try await withStore { store, client, prefix in
            let record = makeTokenRecord()
            try await store.put(record, ttl: .seconds(30))
            let recordTTL = try await client.pttl(prefix + "access:" + record.accessID)
            #expect((29_000...30_000).contains(recordTTL))
            // Without a refresh family the record is a login of its own.
            let familyKey = prefix + "family:" + record.accessID + ":access"
            #expect(try await client.smembers(familyKey) == [record.accessID])
            let loginsKey = prefix + "user:" + record.userID + ":logins"

            // A longer-lived record extends the indexes; a shorter one does not shorten them.
            let longer = makeTokenRecord(userID: record.userID)
            try await store.put(longer, ttl: .seconds(300))
            #expect((299_000...300_000).contains(try await client.pttl(loginsKey)))
            try await store.put(makeTokenRecord(userID: record.userID), ttl: .seconds(5))
            #expect((299_000...300_000).contains(try await client.pttl(loginsKey)))

            let json = try #require(try await client.getString(prefix + "access:" + record.accessID))
            #expect(json.contains("\"access_id\":\"\(record.accessID)\""))
            #expect(json.contains("\"user_id\":\"\(record.userID)\""))
        }
    }

    @Test("revoking a login removes its access records and its refresh family, and nothing of the user's other logins")
    func revokeFamily() async throws {
        try await withStore { store, client, prefix in
            let userID = "usr" + randomID()
            var first = makeTokenRecord(userID: userID)
            first.refreshFamilyID = "fam-" + randomID()
            var refreshed = makeTokenRecord(userID: userID)
            refreshed.refreshFamilyID = first.refreshFamilyID
            var other = makeTokenRecord(userID: userID)
            other.refreshFamilyID = "fam-" + randomID()
            for record in [first, refreshed, other] { try await store.put(record, ttl: .seconds(60)) }
            try await client.set(prefix + "refresh:" + first.refreshFamilyID!, to: "x")
            #expect(try await store.revokeFamily(first.refreshFamilyID!, userID: userID) == 2)
            #expect(try await store.get(accessID: first.accessID) == nil)
            #expect(try await store.get(accessID: refreshed.accessID) == nil)
            #expect(try await client.getString(prefix + "refresh:" + first.refreshFamilyID!) == nil)
            #expect(try await store.get(accessID: other.accessID) == other)
        }
    }

    @Test("retiring a login's other records shortens them to the grace and keeps the new one")
    func retire() async throws {
        try await withStore { store, client, prefix in
            var old = makeTokenRecord()
            old.refreshFamilyID = "fam-" + randomID()
            var new = makeTokenRecord(userID: old.userID)
            new.refreshFamilyID = old.refreshFamilyID
            try await store.put(old, ttl: .seconds(600))
            try await store.put(new, ttl: .seconds(600))
            try await store.retireFamily(old.refreshFamilyID!, except: new.accessID, within: .seconds(2))
            #expect((1...2_000).contains(try await client.pttl(prefix + "access:" + old.accessID)))
            #expect(try await client.pttl(prefix + "access:" + new.accessID) > 590_000)
        }
    }

    @Test("a user keeps at most maximumLogins logins; the oldest goes first, with its refresh family")
    func loginsCapped() async throws {
        try await withStore(maximumLogins: 2) { store, client, prefix in
            let userID = "usr" + randomID()
            var records: [TokenRecord] = []
            for _ in 0..<3 {
                var record = makeTokenRecord(userID: userID)
                record.refreshFamilyID = "fam-" + randomID()
                try await client.set(prefix + "refresh:" + record.refreshFamilyID!, to: "x")
                try await store.put(record, ttl: .seconds(60))
                records.append(record)
                try await Task.sleep(for: .milliseconds(5))
            }
            #expect(try await store.get(accessID: records[0].accessID) == nil)
            #expect(try await client.getString(prefix + "refresh:" + records[0].refreshFamilyID!) == nil)
            #expect(try await store.get(accessID: records[1].accessID) == records[1])
            #expect(try await store.get(accessID: records[2].accessID) == records[2])
        }
    }

    @Test("deleteAll also removes records indexed by the previous layout's user set, and every login's refresh family")
    func deleteAllLegacy() async throws {
        try await withStore { store, client, prefix in
            let userID = "usr" + randomID()
            var record = makeTokenRecord(userID: userID)
            record.refreshFamilyID = "fam-" + randomID()
            try await store.put(record, ttl: .seconds(60))
            try await client.set(prefix + "refresh:" + record.refreshFamilyID!, to: "x")
            let legacyID = randomID()
            try await client.set(prefix + "access:" + legacyID, to: "{}", expiration: .seconds(60))
            _ = try await client.sadd(prefix + "user:" + userID + ":access", legacyID)
            #expect(try await store.deleteAll(userID: userID) == 2)
            #expect(try await client.getString(prefix + "access:" + legacyID) == nil)
            #expect(try await client.getString(prefix + "refresh:" + record.refreshFamilyID!) == nil)
            #expect(try await client.ttl(prefix + "user:" + userID + ":logins") == -2)
        }
    }

    @Test("an unreachable server surfaces as a backend error, not as a missing token")
    func unreachable() async throws {
        let client = ValkeyClient(
            configuration: ValkeyConfiguration(host: "127.0.0.1", port: 1, connectTimeout: .milliseconds(500)))
        let store = ValkeyTokenStore(client: client)
        for operation in [
            { _ = try await store.get(accessID: randomID()) },
            { try await store.put(makeTokenRecord(), ttl: .seconds(5)) },
            { try await store.delete(accessID: randomID()) },
            { _ = try await store.deleteAll(userID: "usr1") },
        ] as [() async throws -> Void] {
            let error = await #expect(throws: TokenStoreError.self) { try await operation() }
            guard case .backend(.connectionFailed) = error else {
                Issue.record("expected backend(connectionFailed), got \(String(describing: error))")
                continue
            }
        }
        await client.shutdown()
    }

    @Test("a wrong password surfaces as a backend authentication error")
    func wrongPassword() async throws {
        var config = try TokenStoreTestServer.configuration()
        config.password = "not-the-password"
        let client = ValkeyClient(configuration: config)
        let store = ValkeyTokenStore(client: client)
        await #expect(throws: TokenStoreError.backend(.authenticationFailed)) {
            _ = try await store.get(accessID: randomID())
        }
        await client.shutdown()
    }
}
