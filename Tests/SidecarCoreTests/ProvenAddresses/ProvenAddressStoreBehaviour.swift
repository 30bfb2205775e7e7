import Foundation
import Testing

@testable import SidecarCore

/// What every ``ProvenAddressStore`` must do, written once and checked against each implementation.
struct ProvenAddressStoreBehaviour {
    let store: any ProvenAddressStore

    func proveStoresBothDirections() async throws {
        let (email, uid) = (makeLinkEmail(), makeTinodeUID())
        #expect(try await store.prove(email: email, uid: uid, by: .tinodeValidation) == .created)
        #expect(try await store.owner(ofEmail: email) == ProvenAddress(uid: uid, proof: .tinodeValidation))
        #expect(try await store.addresses(ofUID: uid) == [email])
    }

    func provingAgainKeepsTheFirstProof() async throws {
        let (email, uid) = (makeLinkEmail(), makeTinodeUID())
        #expect(try await store.prove(email: email, uid: uid, by: .externalToken) == .created)
        #expect(try await store.prove(email: email, uid: uid, by: .tinodeValidation) == .alreadyProven)
        #expect(try await store.prove(email: email, uid: uid, by: .externalToken) == .alreadyProven)
        #expect(try await store.owner(ofEmail: email) == ProvenAddress(uid: uid, proof: .externalToken))
        #expect(try await store.addresses(ofUID: uid) == [email])
    }

    func theFirstProofWins() async throws {
        let (email, owner, later) = (makeLinkEmail(), makeTinodeUID(), makeTinodeUID())
        #expect(try await store.prove(email: email, uid: owner, by: .tinodeValidation) == .created)
        #expect(try await store.prove(email: email, uid: later, by: .externalToken) == .conflict(existingUID: owner))
        #expect(try await store.prove(email: email, uid: later, by: .tinodeValidation) == .conflict(existingUID: owner))
        #expect(try await store.owner(ofEmail: email) == ProvenAddress(uid: owner, proof: .tinodeValidation))
        #expect(try await store.addresses(ofUID: later).isEmpty)
    }

    func aUIDMayProveSeveralAddresses() async throws {
        let uid = makeTinodeUID()
        let tag = UUID().uuidString.prefix(8).lowercased()
        // Listed by UTF-8 bytes: "a" < "z" < "é" (0xC3 0xA9).
        let emails = ["é\(tag)@example.com", "a\(tag)@example.com", "z\(tag)@example.com"]
        for email in emails {
            #expect(try await store.prove(email: email, uid: uid, by: .tinodeValidation) == .created)
        }
        #expect(try await store.addresses(ofUID: uid) == ["a\(tag)@example.com", "z\(tag)@example.com", "é\(tag)@example.com"])
    }

    func forgetDropsEveryProofOfTheUIDOnly() async throws {
        let (uid, other) = (makeTinodeUID(), makeTinodeUID())
        let (first, second, others) = (makeLinkEmail(), makeLinkEmail(), makeLinkEmail())
        #expect(try await store.prove(email: first, uid: uid, by: .tinodeValidation) == .created)
        #expect(try await store.prove(email: second, uid: uid, by: .externalToken) == .created)
        #expect(try await store.prove(email: others, uid: other, by: .tinodeValidation) == .created)
        try await store.forget(uid: uid)
        #expect(try await store.owner(ofEmail: first) == nil)
        #expect(try await store.owner(ofEmail: second) == nil)
        #expect(try await store.addresses(ofUID: uid).isEmpty)
        #expect(try await store.owner(ofEmail: others) == ProvenAddress(uid: other, proof: .tinodeValidation))
        // The freed address can be proven by someone else; forgetting again or an unknown uid is fine.
        #expect(try await store.prove(email: first, uid: other, by: .externalToken) == .created)
        try await store.forget(uid: uid)
        try await store.forget(uid: makeTinodeUID())
        #expect(try await store.addresses(ofUID: other) == [first, others].sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
    }

    func unknownReadsAsNothing() async throws {
        #expect(try await store.owner(ofEmail: makeLinkEmail()) == nil)
        #expect(try await store.addresses(ofUID: makeTinodeUID()).isEmpty)
    }

    func invalidInputsAreRefusedAndChangeNothing() async throws {
        let email = makeLinkEmail()
        for uid in IdentityLinkStoreBehaviour.invalidUIDs {
            await #expect(throws: IdentityLinkError.invalidUID) { try await store.prove(email: email, uid: uid, by: .tinodeValidation) }
            await #expect(throws: IdentityLinkError.invalidUID) { try await store.addresses(ofUID: uid) }
            await #expect(throws: IdentityLinkError.invalidUID) { try await store.forget(uid: uid) }
        }
        await #expect(throws: IdentityLinkError.invalidEmail) { try await store.prove(email: "", uid: makeTinodeUID(), by: .externalToken) }
        await #expect(throws: IdentityLinkError.invalidEmail) { try await store.owner(ofEmail: "") }
        #expect(try await store.owner(ofEmail: email) == nil)
    }

    /// The store compares bytes, as Valkey does; normalising is the caller's job.
    func equivalentSpellingsAreDifferentAddresses() async throws {
        let tag = UUID().uuidString.prefix(8)
        let composed = "jos\u{E9}\(tag)@example.com"
        let decomposed = "jose\u{301}\(tag)@example.com"
        let (first, second) = (makeTinodeUID(), makeTinodeUID())
        #expect(try await store.prove(email: composed, uid: first, by: .tinodeValidation) == .created)
        #expect(try await store.owner(ofEmail: decomposed) == nil)
        #expect(try await store.prove(email: decomposed, uid: second, by: .tinodeValidation) == .created)
        let stored = try #require(try await store.addresses(ofUID: second).first)
        #expect(Array(stored.utf8) == Array(decomposed.utf8))
    }

    /// The Gateway and REST-auth proving one address for different accounts at once: one wins.
    func concurrentProofsOfOneAddressHaveOneWinner(count: Int = 100) async throws {
        let email = makeLinkEmail()
        let uids = (0..<count).map { _ in makeTinodeUID() }
        let outcomes = try await withThrowingTaskGroup(of: (String, ProofOutcome).self) { group in
            for (index, uid) in uids.enumerated() {
                group.addTask {
                    (uid, try await store.prove(email: email, uid: uid, by: index.isMultiple(of: 2) ? .tinodeValidation : .externalToken))
                }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        let winners = outcomes.filter { $0.value == .created }.map(\.key)
        try #require(winners.count == 1, "expected one winner, got \(winners.count)")
        let winner = winners[0]
        for (uid, outcome) in outcomes where uid != winner {
            #expect(outcome == .conflict(existingUID: winner))
            #expect(try await store.addresses(ofUID: uid).isEmpty)
        }
        #expect(try await store.owner(ofEmail: email)?.uid == winner)
    }
}
