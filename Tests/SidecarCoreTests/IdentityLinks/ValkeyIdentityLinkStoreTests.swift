import Foundation
import TestSupport
import Testing
import Valkey

@testable import SidecarCore

@Suite("Valkey identity link store")
struct ValkeyIdentityLinkStoreTests {
    /// Runs `body` against a store with its own key prefix on the shared test server. The pool is larger
    /// than the default so that concurrent calls really run side by side on the server.
    private func withStore(
        _ body: (ValkeyIdentityLinkStore, ValkeyClient, String) async throws -> Void
    ) async throws {
        var configuration = try TokenStoreTestServer.configuration()
        configuration.poolSize = 16
        let client = ValkeyClient(configuration: configuration)
        let prefix = "identity-link-tests:\(UUID().uuidString):"
        do {
            try await body(ValkeyIdentityLinkStore(client: client, keyPrefix: prefix), client, prefix)
            await client.shutdown()
        } catch {
            await client.shutdown()
            throw error
        }
    }

    private func withBehaviour(_ body: (IdentityLinkStoreBehaviour) async throws -> Void) async throws {
        try await withStore { store, _, _ in try await body(IdentityLinkStoreBehaviour(store: store)) }
    }

    @Test("link stores the e-mail -> uid link in both directions")
    func link() async throws { try await withBehaviour { try await $0.linkCreatesBothDirections() } }

    @Test("linking the same pair again is idempotent")
    func idempotent() async throws { try await withBehaviour { try await $0.linkingTheSamePairAgainChangesNothing() } }

    @Test("linking another uid to a linked e-mail is a conflict and changes nothing")
    func conflict() async throws {
        try await withBehaviour { try await $0.linkingAnotherUIDToALinkedEmailIsAConflict() }
    }

    @Test("linking a uid that has another e-mail is refused and changes nothing")
    func uidHasOtherEmail() async throws {
        try await withBehaviour { try await $0.linkingAUIDThatHasAnotherEmailIsRefused() }
    }

    @Test("a conflict on the e-mail is reported before the uid's other e-mail")
    func conflictFirst() async throws {
        try await withBehaviour { try await $0.conflictIsReportedBeforeTheUIDsOtherEmail() }
    }

    @Test("relink moves the uid and frees the old e-mail")
    func relinkMoves() async throws { try await withBehaviour { try await $0.relinkMovesTheUIDAndFreesTheOldEmail() } }

    @Test("relink of an unlinked uid creates the link")
    func relinkCreates() async throws { try await withBehaviour { try await $0.relinkOfAnUnlinkedUIDCreatesTheLink() } }

    @Test("relink to the same e-mail is idempotent")
    func relinkSame() async throws { try await withBehaviour { try await $0.relinkToTheSameEmailChangesNothing() } }

    @Test("relink to another uid's e-mail is a conflict and changes nothing")
    func relinkConflict() async throws {
        try await withBehaviour { try await $0.relinkToAnotherUIDsEmailIsAConflict() }
    }

    @Test("unlink removes both directions and reports whether there was a link")
    func unlink() async throws { try await withBehaviour { try await $0.unlinkRemovesBothDirections() } }

    @Test("unknown e-mails and uids read as nil")
    func unknown() async throws { try await withBehaviour { try await $0.unknownKeysReadAsNil() } }

    @Test("malformed uids are refused by every operation")
    func invalidUID() async throws { try await withBehaviour { try await $0.invalidUIDsAreRefusedAndChangeNothing() } }

    @Test("an empty e-mail is refused by every operation")
    func invalidEmail() async throws { try await withBehaviour { try await $0.emptyEmailIsRefusedAndChangesNothing() } }

    @Test("Unicode e-mails work as keys and come back byte for byte")
    func unicode() async throws { try await withBehaviour { try await $0.unicodeEmailsAreKeys() } }

    @Test("canonically equivalent spellings are different e-mails")
    func equivalentSpellings() async throws {
        try await withBehaviour { try await $0.equivalentSpellingsAreDifferentEmails() }
    }

    @Test("100 concurrent links of one e-mail: exactly one uid wins, the others see its uid")
    func concurrentEmail() async throws {
        try await withBehaviour { try await $0.concurrentLinksOfOneEmailHaveOneWinner(count: 100) }
    }

    @Test("100 concurrent links of one uid: exactly one e-mail wins")
    func concurrentUID() async throws {
        try await withBehaviour { try await $0.concurrentLinksOfOneUIDHaveOneWinner(count: 100) }
    }

    @Test("concurrent relinks to one e-mail: exactly one uid moves, the others keep their e-mail")
    func concurrentRelink() async throws {
        try await withBehaviour { try await $0.concurrentRelinksToOneEmailHaveOneWinner(count: 50) }
    }

    @Test("keys live under the prefix and never expire")
    func keyLayoutWithoutTTL() async throws {
        try await withStore { store, client, prefix in
            let (email, uid, newEmail) = (makeLinkEmail(), makeTinodeUID(), makeLinkEmail())
            let emailKey = prefix + "link:email:" + email
            let uidKey = prefix + "link:uid:" + uid
            let outcome = try await store.link(email: email, uid: uid)
            #expect(outcome == .created)
            #expect(try await client.getString(emailKey) == uid)
            #expect(try await client.getString(uidKey) == email)
            #expect(try await client.ttl(emailKey) == -1)
            #expect(try await client.ttl(uidKey) == -1)

            #expect(try await store.relink(uid: uid, email: newEmail) == .created)
            let newEmailKey = prefix + "link:email:" + newEmail
            #expect(try await client.ttl(emailKey) == -2)
            #expect(try await client.ttl(newEmailKey) == -1)
            #expect(try await client.ttl(uidKey) == -1)
            #expect(try await client.getString(uidKey) == newEmail)

            #expect(try await store.unlink(uid: uid) == true)
            #expect(try await client.ttl(newEmailKey) == -2)
            #expect(try await client.ttl(uidKey) == -2)
        }
    }

    @Test("the default key prefix is sidecar:")
    func defaultPrefix() async throws {
        try await withStore { _, client, _ in
            let store = ValkeyIdentityLinkStore(client: client)
            let (email, uid) = (makeLinkEmail(), makeTinodeUID())
            let outcome = try await store.link(email: email, uid: uid)
            #expect(outcome == .created)
            #expect(try await client.getString("sidecar:link:email:" + email) == uid)
            #expect(try await client.getString("sidecar:link:uid:" + uid) == email)
            #expect(try await store.unlink(uid: uid) == true)
        }
    }

    @Test("relink and unlink never delete an e-mail key that points at another uid")
    func inconsistentDataIsNotMadeWorse() async throws {
        try await withStore { store, client, prefix in
            // Hand-edited data the scripts never produce: uid A claims an e-mail that belongs to uid B.
            let (a, b, shared, next) = (makeTinodeUID(), makeTinodeUID(), makeLinkEmail(), makeLinkEmail())
            try await client.set(prefix + "link:uid:" + a, to: shared)
            try await client.set(prefix + "link:email:" + shared, to: b)
            try await client.set(prefix + "link:uid:" + b, to: shared)

            #expect(try await store.relink(uid: a, email: next) == .created)
            #expect(try await store.uid(forEmail: shared) == b)
            #expect(try await store.unlink(uid: a) == true)
            #expect(try await store.uid(forEmail: next) == nil)
            #expect(try await store.uid(forEmail: shared) == b)
            #expect(try await store.email(forUID: b) == shared)
        }
    }

    @Test("a stopped server surfaces as a backend error from every operation, never as 'not linked'")
    func stoppedServer() async throws {
        let server = try RedisServerProcess()
        try await server.start()
        defer { server.stop() }
        let client = ValkeyClient(
            configuration: try ValkeyConfiguration(url: server.url, connectTimeout: .milliseconds(500), commandTimeout: .milliseconds(500)))
        let store = ValkeyIdentityLinkStore(client: client)
        let (email, uid) = (makeLinkEmail(), makeTinodeUID())
        #expect(try await store.link(email: email, uid: uid) == .created)
        server.stop()

        let operations: [(String, () async throws -> Void)] = [
            ("link", { _ = try await store.link(email: makeLinkEmail(), uid: makeTinodeUID()) }),
            ("relink", { _ = try await store.relink(uid: uid, email: makeLinkEmail()) }),
            ("uid(forEmail:)", { _ = try await store.uid(forEmail: email) }),
            ("email(forUID:)", { _ = try await store.email(forUID: uid) }),
            ("unlink", { _ = try await store.unlink(uid: uid) }),
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
