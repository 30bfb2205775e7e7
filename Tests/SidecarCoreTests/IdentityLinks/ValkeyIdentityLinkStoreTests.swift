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
        try await withStore { store, client, prefix in
            try await body(
                IdentityLinkStoreBehaviour(store: store) { email, uid in
                    try await client.set(prefix + "link:email:" + email, to: uid)
                    try await client.set(prefix + "link:uid:" + uid, to: email)
                })
        }
    }

    @Test("link stores subject -> uid with the address as an attribute")
    func link() async throws { try await withBehaviour { try await $0.linkCreatesBothDirections() } }

    @Test("linking the same pair again is idempotent and keeps the first address")
    func idempotent() async throws { try await withBehaviour { try await $0.linkingTheSamePairAgainChangesNothing() } }

    @Test("linking a linked subject to another uid is a conflict and changes nothing")
    func conflict() async throws { try await withBehaviour { try await $0.linkingALinkedSubjectToAnotherUIDIsAConflict() } }

    @Test("a uid may have several subjects")
    func severalSubjects() async throws { try await withBehaviour { try await $0.aUIDMayHaveSeveralSubjects() } }

    @Test("relink moves the uid and frees its other subjects")
    func relinkMoves() async throws { try await withBehaviour { try await $0.relinkMovesTheUIDAndFreesItsOtherSubjects() } }

    @Test("relink of an unlinked uid creates the link")
    func relinkCreates() async throws { try await withBehaviour { try await $0.relinkOfAnUnlinkedUIDCreatesTheLink() } }

    @Test("relink to the uid's only subject is idempotent")
    func relinkSame() async throws { try await withBehaviour { try await $0.relinkToTheOnlySubjectChangesNothing() } }

    @Test("relink to another uid's subject is a conflict and changes nothing")
    func relinkConflict() async throws { try await withBehaviour { try await $0.relinkToAnotherUIDsSubjectIsAConflict() } }

    @Test("unlink removes every subject of the uid and reports whether there was one")
    func unlink() async throws { try await withBehaviour { try await $0.unlinkRemovesEveryLinkOfTheUID() } }

    @Test("unlink removes an e-mail link of the old layout too")
    func unlinkLegacy() async throws { try await withBehaviour { try await $0.unlinkRemovesALegacyLinkToo() } }

    @Test("unknown subjects and uids read as nil")
    func unknown() async throws { try await withBehaviour { try await $0.unknownKeysReadAsNil() } }

    @Test("(iss, sub) pairs are encoded unambiguously and compared byte for byte")
    func distinctPairs() async throws { try await withBehaviour { try await $0.subjectsAreDistinctPairs() } }

    @Test("malformed uids, subjects and addresses are refused by every operation")
    func invalid() async throws { try await withBehaviour { try await $0.invalidInputsAreRefusedAndChangeNothing() } }

    @Test("Unicode subjects and addresses come back byte for byte")
    func unicode() async throws { try await withBehaviour { try await $0.unicodeComesBackByteForByte() } }

    @Test("concurrent links of one subject: exactly one uid wins")
    func concurrentSubject() async throws { try await withBehaviour { try await $0.concurrentLinksOfOneSubjectHaveOneWinner() } }

    @Test("concurrent relinks to one subject: exactly one uid moves")
    func concurrentRelink() async throws { try await withBehaviour { try await $0.concurrentRelinksToOneSubjectHaveOneWinner() } }

    @Test("adopting a legacy e-mail link rewrites it as a subject link")
    func adopt() async throws { try await withBehaviour { try await $0.adoptingALegacyLinkRewritesIt() } }

    @Test("adopting without a legacy link does nothing")
    func adoptNothing() async throws { try await withBehaviour { try await $0.adoptingWithoutALegacyLinkDoesNothing() } }

    @Test("adopting for a linked subject answers its uid and keeps the legacy link")
    func adoptLinked() async throws {
        try await withBehaviour { try await $0.adoptingForALinkedSubjectAnswersItsUIDAndKeepsTheLegacyLink() }
    }

    @Test("a legacy uid that has a subject already is not adopted")
    func adoptTaken() async throws { try await withBehaviour { try await $0.aLegacyUIDThatHasASubjectIsNotAdopted() } }

    @Test("concurrent adoptions of one legacy link: exactly one subject wins")
    func concurrentAdopt() async throws { try await withBehaviour { try await $0.concurrentAdoptionsHaveOneWinner() } }

    @Test("keys live under the prefix, hold the pair and the address, and never expire")
    func keyLayoutWithoutTTL() async throws {
        try await withStore { store, client, prefix in
            let (subject, uid, email, next) = (makeSubject(), makeTinodeUID(), makeLinkEmail(), makeSubject())
            let subjectKey = prefix + "link:subject:" + subject.digest
            let subjectsKey = prefix + "link:subjects:" + uid
            #expect(try await store.link(subject, uid: uid, email: email) == .created)
            let fields: [String] = try await client.command(["HGETALL", subjectKey]).array?.compactMap(\.string) ?? []
            var hash: [String: String] = [:]
            for index in stride(from: 0, to: fields.count - 1, by: 2) { hash[fields[index]] = fields[index + 1] }
            let expected: [String: String] = ["uid": uid, "iss": subject.issuer, "sub": subject.subject, "email": email]
            #expect(hash == expected)
            #expect(try await client.smembers(subjectsKey) == [subject.digest])
            #expect(try await client.ttl(subjectKey) == -1)
            #expect(try await client.ttl(subjectsKey) == -1)

            #expect(try await store.relink(uid: uid, to: next, email: nil) == .created)
            let nextKey = prefix + "link:subject:" + next.digest
            #expect(try await client.ttl(subjectKey) == -2)
            #expect(try await client.ttl(nextKey) == -1)
            #expect(try await client.command(["HGET", nextKey, "email"]).isNull)
            #expect(try await client.smembers(subjectsKey) == [next.digest])

            #expect(try await store.unlink(uid: uid) == true)
            #expect(try await client.ttl(nextKey) == -2)
            #expect(try await client.ttl(subjectsKey) == -2)
        }
    }

    @Test("the digest is SHA-256 of the length-prefixed pair")
    func digestRule() {
        // printf '%s' '5:https3:abc' | sha256sum
        #expect(
            ExternalSubject(issuer: "https", subject: "abc").digest == "7105e4928a8eaffd8c452ca9deffabb848d93e33f10e23caf6cf310d6fa181b1")
        // Lengths in bytes: "é" counts 2.
        #expect(ExternalSubject(issuer: "é", subject: "x").digest == "74df6a7d6c539ae9a55886a63a9c97fe34446b40b84171652581ab25dec320f5")
    }

    @Test("the default key prefix is sidecar:, and the old layout's keys are read and removed there")
    func defaultPrefix() async throws {
        try await withStore { _, client, _ in
            let store = ValkeyIdentityLinkStore(client: client)
            let (subject, uid) = (makeSubject(), makeTinodeUID())
            #expect(try await store.link(subject, uid: uid, email: nil) == .created)
            #expect(try await client.command(["HGET", "sidecar:link:subject:" + subject.digest, "uid"]).string == uid)
            #expect(try await client.smembers("sidecar:link:subjects:" + uid) == [subject.digest])
            #expect(try await store.unlink(uid: uid) == true)

            let (email, legacyUID, adopter) = (makeLinkEmail(), makeTinodeUID(), makeSubject())
            try await client.set("sidecar:link:email:" + email, to: legacyUID)
            try await client.set("sidecar:link:uid:" + legacyUID, to: email)
            #expect(try await store.adoptLegacyLink(email: email, for: adopter) == legacyUID)
            #expect(try await client.getString("sidecar:link:email:" + email) == nil)
            #expect(try await client.getString("sidecar:link:uid:" + legacyUID) == nil)
            #expect(try await store.unlink(uid: legacyUID) == true)
        }
    }

    @Test("relink and unlink never delete a subject or e-mail key that names another uid")
    func inconsistentDataIsNotMadeWorse() async throws {
        try await withStore { store, client, prefix in
            // Hand-edited data the scripts never produce: uid A lists a subject and an e-mail that belong to uid B.
            let (a, b, shared, next, email) = (makeTinodeUID(), makeTinodeUID(), makeSubject(), makeSubject(), makeLinkEmail())
            #expect(try await store.link(shared, uid: b, email: nil) == .created)
            _ = try await client.sadd(prefix + "link:subjects:" + a, shared.digest)
            try await client.set(prefix + "link:uid:" + a, to: email)
            try await client.set(prefix + "link:email:" + email, to: b)

            #expect(try await store.links(ofUID: a).isEmpty)
            #expect(try await store.relink(uid: a, to: next, email: nil) == .created)
            #expect(try await store.uid(for: shared) == b)
            #expect(try await store.unlink(uid: a) == true)
            #expect(try await store.uid(for: next) == nil)
            #expect(try await store.uid(for: shared) == b)
            #expect(try await client.getString(prefix + "link:email:" + email) == b)
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
        let (subject, uid) = (makeSubject(), makeTinodeUID())
        #expect(try await store.link(subject, uid: uid, email: nil) == .created)
        server.stop()

        let operations: [(String, () async throws -> Void)] = [
            ("link", { _ = try await store.link(makeSubject(), uid: makeTinodeUID(), email: nil) }),
            ("relink", { _ = try await store.relink(uid: uid, to: makeSubject(), email: nil) }),
            ("uid(for:)", { _ = try await store.uid(for: subject) }),
            ("links(ofUID:)", { _ = try await store.links(ofUID: uid) }),
            ("unlink", { _ = try await store.unlink(uid: uid) }),
            ("adoptLegacyLink", { _ = try await store.adoptLegacyLink(email: makeLinkEmail(), for: subject) }),
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
