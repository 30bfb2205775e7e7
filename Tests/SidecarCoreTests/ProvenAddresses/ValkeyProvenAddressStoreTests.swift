import Foundation
import TestSupport
import Testing
import Valkey

@testable import SidecarCore

@Suite("Valkey proven-address store")
struct ValkeyProvenAddressStoreTests {
    /// Runs `body` against a store with its own key prefix on the shared test server; a pool of 16 so
    /// that concurrent calls really run side by side on the server.
    private func withStore(_ body: (ValkeyProvenAddressStore, ValkeyClient, String) async throws -> Void) async throws {
        var configuration = try TokenStoreTestServer.configuration()
        configuration.poolSize = 16
        let prefix = "proven-address-tests:\(UUID().uuidString):"
        try await withValkeyClient(configuration) { client in
            try await body(ValkeyProvenAddressStore(client: client, keyPrefix: prefix), client, prefix)
        }
    }

    private func withBehaviour(_ body: (ProvenAddressStoreBehaviour) async throws -> Void) async throws {
        try await withStore { store, _, _ in try await body(ProvenAddressStoreBehaviour(store: store)) }
    }

    @Test("prove stores the owner and the uid's address")
    func prove() async throws { try await withBehaviour { try await $0.proveStoresBothDirections() } }

    @Test("proving again for the same uid keeps the first proof")
    func again() async throws { try await withBehaviour { try await $0.provingAgainKeepsTheFirstProof() } }

    @Test("the first proof wins; another uid gets a conflict")
    func firstWins() async throws { try await withBehaviour { try await $0.theFirstProofWins() } }

    @Test("a uid may prove several addresses, listed by their bytes")
    func several() async throws { try await withBehaviour { try await $0.aUIDMayProveSeveralAddresses() } }

    @Test("forget drops every proof of the uid and nobody else's")
    func forget() async throws { try await withBehaviour { try await $0.forgetDropsEveryProofOfTheUIDOnly() } }

    @Test("unknown addresses and uids read as nothing")
    func unknown() async throws { try await withBehaviour { try await $0.unknownReadsAsNothing() } }

    @Test("malformed uids and empty addresses are refused by every operation")
    func invalid() async throws { try await withBehaviour { try await $0.invalidInputsAreRefusedAndChangeNothing() } }

    @Test("canonically equivalent spellings are different addresses")
    func spellings() async throws { try await withBehaviour { try await $0.equivalentSpellingsAreDifferentAddresses() } }

    @Test("concurrent proofs of one address: exactly one uid wins")
    func concurrent() async throws { try await withBehaviour { try await $0.concurrentProofsOfOneAddressHaveOneWinner() } }

    @Test("keys live under the prefix, in both directions, and never expire; the default prefix is sidecar:")
    func keyLayout() async throws {
        try await withStore { store, client, prefix in
            let (email, uid) = (makeLinkEmail(), makeTinodeUID())
            #expect(try await store.prove(email: email, uid: uid, by: .externalToken) == .created)
            let emailKey = prefix + "proof:email:" + email
            let uidKey = prefix + "proof:uid:" + uid
            #expect(try await client.command(["HGET", emailKey, "uid"]).string == uid)
            #expect(try await client.command(["HGET", emailKey, "proof"]).string == "external")
            #expect(try await client.smembers(uidKey) == [email])
            #expect(try await client.ttl(emailKey) == -1)
            #expect(try await client.ttl(uidKey) == -1)
            try await store.forget(uid: uid)
            #expect(try await client.ttl(emailKey) == -2)
            #expect(try await client.ttl(uidKey) == -2)

            let standard = ValkeyProvenAddressStore(client: client)
            #expect(try await standard.prove(email: email, uid: uid, by: .tinodeValidation) == .created)
            #expect(try await client.command(["HGET", "sidecar:proof:email:" + email, "proof"]).string == "tinode")
            #expect(try await client.smembers("sidecar:proof:uid:" + uid) == [email])
            try await standard.forget(uid: uid)
        }
    }

    @Test("forget never deletes an address key that names another uid")
    func inconsistentDataIsNotMadeWorse() async throws {
        try await withStore { store, client, prefix in
            // Hand-edited data the scripts never produce: uid A lists an address that uid B proved.
            let (a, b, email) = (makeTinodeUID(), makeTinodeUID(), makeLinkEmail())
            #expect(try await store.prove(email: email, uid: b, by: .tinodeValidation) == .created)
            _ = try await client.sadd(prefix + "proof:uid:" + a, email)
            try await store.forget(uid: a)
            #expect(try await store.owner(ofEmail: email) == ProvenAddress(uid: b, proof: .tinodeValidation))
            #expect(try await store.addresses(ofUID: a).isEmpty)
        }
    }

    @Test("a stored proof of an unknown kind is a backend error, not 'not proven'")
    func unknownProofKind() async throws {
        try await withStore { store, client, prefix in
            let email = makeLinkEmail()
            _ = try await client.command(["HSET", prefix + "proof:email:" + email, "uid", makeTinodeUID(), "proof", "rumour"])
            await #expect(throws: IdentityLinkError.self) { try await store.owner(ofEmail: email) }
        }
    }

    @Test("a stopped server surfaces as a backend error from every operation, never as 'not proven'")
    func stoppedServer() async throws {
        let server = try RedisServerProcess()
        try await server.start()
        defer { server.stop() }
        let client = ValkeyClient(
            configuration: try ValkeyConfiguration(url: server.url, connectTimeout: .milliseconds(500), commandTimeout: .milliseconds(500)))
        let store = ValkeyProvenAddressStore(client: client)
        let (email, uid) = (makeLinkEmail(), makeTinodeUID())
        #expect(try await store.prove(email: email, uid: uid, by: .tinodeValidation) == .created)
        server.stop()

        let operations: [(String, () async throws -> Void)] = [
            ("prove", { _ = try await store.prove(email: makeLinkEmail(), uid: uid, by: .externalToken) }),
            ("owner(ofEmail:)", { _ = try await store.owner(ofEmail: email) }),
            ("addresses(ofUID:)", { _ = try await store.addresses(ofUID: uid) }),
            ("forget", { try await store.forget(uid: uid) }),
        ]
        for (name, operation) in operations {
            let error = await #expect(throws: IdentityLinkError.self, "\(name)") { try await operation() }
            guard case .backend(.connectionFailed) = error else {
                Issue.record("\(name): expected backend(connectionFailed), got \(String(describing: error))")
                continue
            }
        }
        await client.shutdown()
    }
}
