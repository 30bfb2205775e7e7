import Foundation
import Testing
import Valkey

@testable import SidecarCore

@Suite("Valkey token store")
struct ValkeyTokenStoreTests {
    /// Runs `body` against a store with its own key prefix on the shared test server.
    private func withStore(
        _ body: (ValkeyTokenStore, ValkeyClient, String) async throws -> Void
    ) async throws {
        let client = ValkeyClient(configuration: try TokenStoreTestServer.configuration())
        let prefix = "token-store-tests:\(UUID().uuidString):"
        do {
            try await body(ValkeyTokenStore(client: client, keyPrefix: prefix), client, prefix)
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

    @Test("keys live under the prefix; the record expires with PX and the user index outlives it")
    func keyLayout() async throws {
        try await withStore { store, client, prefix in
            let record = makeTokenRecord()
            try await store.put(record, ttl: .seconds(30))
            let recordTTL = try await client.pttl(prefix + "access:" + record.accessID)
            #expect((29_000...30_000).contains(recordTTL))
            let indexKey = prefix + "user:" + record.userID + ":access"
            #expect(try await client.smembers(indexKey) == [record.accessID])

            // A longer-lived record extends the index; a shorter one does not shorten it.
            let longer = makeTokenRecord(userID: record.userID)
            try await store.put(longer, ttl: .seconds(300))
            #expect((299_000...300_000).contains(try await client.pttl(indexKey)))
            try await store.put(makeTokenRecord(userID: record.userID), ttl: .seconds(5))
            #expect((299_000...300_000).contains(try await client.pttl(indexKey)))

            let json = try #require(try await client.getString(prefix + "access:" + record.accessID))
            #expect(json.contains("\"access_id\":\"\(record.accessID)\""))
            #expect(json.contains("\"user_id\":\"\(record.userID)\""))
        }
    }

    @Test("ids of deleted records are pruned from the user index on the next put")
    func indexPruned() async throws {
        try await withStore { store, client, prefix in
            let userID = "usr" + randomID()
            let old = makeTokenRecord(userID: userID)
            try await store.put(old, ttl: .seconds(30))
            try await store.delete(accessID: old.accessID)
            let fresh = makeTokenRecord(userID: userID)
            try await store.put(fresh, ttl: .seconds(30))
            #expect(try await client.smembers(prefix + "user:" + userID + ":access") == [fresh.accessID])
            #expect(try await store.deleteAll(userID: userID) == 1)
            #expect(try await client.ttl(prefix + "user:" + userID + ":access") == -2)
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
