import Foundation
import Testing

@testable import SidecarCore

/// What every ``IdentityLinkStore`` must do, written once and checked against each implementation.
struct IdentityLinkStoreBehaviour {
    let store: any IdentityLinkStore
    /// Writes an e-mail link of the old layout (`e-mail -> uid`), as deployed stores hold them.
    let writeLegacyLink: @Sendable (_ email: String, _ uid: String) async throws -> Void

    func linkCreatesBothDirections() async throws {
        let (subject, uid, email) = (makeSubject(), makeTinodeUID(), makeLinkEmail())
        #expect(try await store.link(subject, uid: uid, email: email) == .created)
        #expect(try await store.uid(for: subject) == uid)
        #expect(try await store.links(ofUID: uid) == [SubjectLink(subject: subject, uid: uid, email: email)])
        let bare = makeSubject()
        let other = makeTinodeUID()
        #expect(try await store.link(bare, uid: other, email: nil) == .created)
        #expect(try await store.links(ofUID: other) == [SubjectLink(subject: bare, uid: other, email: nil)])
    }

    func linkingTheSamePairAgainChangesNothing() async throws {
        let (subject, uid, email) = (makeSubject(), makeTinodeUID(), makeLinkEmail())
        #expect(try await store.link(subject, uid: uid, email: email) == .created)
        #expect(try await store.link(subject, uid: uid, email: makeLinkEmail()) == .alreadyLinked)
        #expect(try await store.link(subject, uid: uid, email: nil) == .alreadyLinked)
        #expect(try await store.uid(for: subject) == uid)
        // The address stored first stays: an attribute, written with the link.
        #expect(try await store.links(ofUID: uid) == [SubjectLink(subject: subject, uid: uid, email: email)])
    }

    func linkingALinkedSubjectToAnotherUIDIsAConflict() async throws {
        let (subject, owner, intruder) = (makeSubject(), makeTinodeUID(), makeTinodeUID())
        #expect(try await store.link(subject, uid: owner, email: nil) == .created)
        #expect(try await store.link(subject, uid: intruder, email: makeLinkEmail()) == .conflict(existingUID: owner))
        #expect(try await store.uid(for: subject) == owner)
        #expect(try await store.links(ofUID: intruder).isEmpty)
    }

    /// Two accounts at the issuer whose verified address one Tinode account proved.
    func aUIDMayHaveSeveralSubjects() async throws {
        let (first, second, uid) = (makeSubject(), makeSubject(), makeTinodeUID())
        #expect(try await store.link(first, uid: uid, email: "a@example.com") == .created)
        #expect(try await store.link(second, uid: uid, email: "a@example.com") == .created)
        #expect(try await store.uid(for: first) == uid)
        #expect(try await store.uid(for: second) == uid)
        let expected = [first, second].sorted { $0.digest < $1.digest }.map {
            SubjectLink(subject: $0, uid: uid, email: "a@example.com")
        }
        #expect(try await store.links(ofUID: uid) == expected)
    }

    func relinkMovesTheUIDAndFreesItsOtherSubjects() async throws {
        let (old, older, new, uid) = (makeSubject(), makeSubject(), makeSubject(), makeTinodeUID())
        #expect(try await store.link(old, uid: uid, email: nil) == .created)
        #expect(try await store.link(older, uid: uid, email: nil) == .created)
        let email = makeLinkEmail()
        #expect(try await store.relink(uid: uid, to: new, email: email) == .created)
        #expect(try await store.uid(for: new) == uid)
        #expect(try await store.uid(for: old) == nil)
        #expect(try await store.uid(for: older) == nil)
        #expect(try await store.links(ofUID: uid) == [SubjectLink(subject: new, uid: uid, email: email)])
        // A freed subject can be taken by someone else.
        #expect(try await store.link(old, uid: makeTinodeUID(), email: nil) == .created)
        #expect(try await store.uid(for: new) == uid)
    }

    func relinkOfAnUnlinkedUIDCreatesTheLink() async throws {
        let (subject, uid) = (makeSubject(), makeTinodeUID())
        #expect(try await store.relink(uid: uid, to: subject, email: nil) == .created)
        #expect(try await store.uid(for: subject) == uid)
        #expect(try await store.links(ofUID: uid).map(\.subject) == [subject])
    }

    func relinkToTheOnlySubjectChangesNothing() async throws {
        let (subject, uid) = (makeSubject(), makeTinodeUID())
        #expect(try await store.link(subject, uid: uid, email: nil) == .created)
        #expect(try await store.relink(uid: uid, to: subject, email: nil) == .alreadyLinked)
        // With a second subject, relinking to the first drops the second.
        let second = makeSubject()
        #expect(try await store.link(second, uid: uid, email: nil) == .created)
        #expect(try await store.relink(uid: uid, to: subject, email: nil) == .created)
        #expect(try await store.uid(for: second) == nil)
        #expect(try await store.links(ofUID: uid).map(\.subject) == [subject])
    }

    func relinkToAnotherUIDsSubjectIsAConflict() async throws {
        let (ownerSubject, owner) = (makeSubject(), makeTinodeUID())
        let (moverSubject, mover) = (makeSubject(), makeTinodeUID())
        #expect(try await store.link(ownerSubject, uid: owner, email: nil) == .created)
        #expect(try await store.link(moverSubject, uid: mover, email: nil) == .created)
        #expect(try await store.relink(uid: mover, to: ownerSubject, email: nil) == .conflict(existingUID: owner))
        // Nothing moved: both keep their subject, in both directions.
        #expect(try await store.uid(for: ownerSubject) == owner)
        #expect(try await store.links(ofUID: owner).map(\.subject) == [ownerSubject])
        #expect(try await store.uid(for: moverSubject) == mover)
        #expect(try await store.links(ofUID: mover).map(\.subject) == [moverSubject])
    }

    func unlinkRemovesEveryLinkOfTheUID() async throws {
        let (first, second, uid) = (makeSubject(), makeSubject(), makeTinodeUID())
        let (otherSubject, otherUID) = (makeSubject(), makeTinodeUID())
        #expect(try await store.link(first, uid: uid, email: nil) == .created)
        #expect(try await store.link(second, uid: uid, email: nil) == .created)
        #expect(try await store.link(otherSubject, uid: otherUID, email: nil) == .created)
        #expect(try await store.unlink(uid: uid) == true)
        #expect(try await store.uid(for: first) == nil)
        #expect(try await store.uid(for: second) == nil)
        #expect(try await store.links(ofUID: uid).isEmpty)
        #expect(try await store.unlink(uid: uid) == false)
        #expect(try await store.unlink(uid: makeTinodeUID()) == false)
        // Other links stay, and the unlinked subjects are free again.
        #expect(try await store.uid(for: otherSubject) == otherUID)
        #expect(try await store.link(first, uid: makeTinodeUID(), email: nil) == .created)
    }

    func unlinkRemovesALegacyLinkToo() async throws {
        let (email, uid) = (makeLinkEmail(), makeTinodeUID())
        try await writeLegacyLink(email, uid)
        #expect(try await store.unlink(uid: uid) == true)
        // Nothing left to adopt.
        #expect(try await store.adoptLegacyLink(email: email, for: makeSubject()) == nil)
        #expect(try await store.unlink(uid: uid) == false)
    }

    func unknownKeysReadAsNil() async throws {
        #expect(try await store.uid(for: makeSubject()) == nil)
        #expect(try await store.links(ofUID: makeTinodeUID()).isEmpty)
    }

    /// The pair is encoded unambiguously and compared byte for byte, and the issuer is part of it.
    func subjectsAreDistinctPairs() async throws {
        let tag = UUID().uuidString
        let pairs = [
            ExternalSubject(issuer: "https://a.example:\(tag)", subject: "c"),
            ExternalSubject(issuer: "https://a.example", subject: "\(tag):c"),
            ExternalSubject(issuer: "https://b.example", subject: "\(tag):c"),
            ExternalSubject(issuer: "https://a.example", subject: "jos\u{E9}\(tag)"),
            ExternalSubject(issuer: "https://a.example", subject: "jose\u{301}\(tag)"),
        ]
        #expect(Set(pairs.map(\.digest)).count == pairs.count)
        var uids: [String] = []
        for subject in pairs {
            let uid = makeTinodeUID()
            uids.append(uid)
            #expect(try await store.link(subject, uid: uid, email: nil) == .created)
        }
        for (subject, uid) in zip(pairs, uids) {
            #expect(try await store.uid(for: subject) == uid)
            let stored = try #require(try await store.links(ofUID: uid).first?.subject)
            #expect(Array(stored.issuer.utf8) == Array(subject.issuer.utf8))
            #expect(Array(stored.subject.utf8) == Array(subject.subject.utf8))
        }
    }

    /// Wrong lengths, the `usr` prefix, standard-base64 and padding characters, a `:` that would reach into
    /// another key, white space, and non-ASCII letters (11 characters but more bytes).
    static let invalidUIDs = [
        "", "abc", "AbCdEfGhIj", "AbCdEfGhIjKl", "usrAbCdEfGhIjK", "AbCdEfGhIj+", "AbCdEfGhIj/", "AbCdEfGhIj=",
        "AbCdE:GhIjK", "AbCdEfGhIj ", "AbCdEfGhIj\n", "AbCdEfGhIjé", "ÄbCdEfGhIjK",
    ]

    func invalidInputsAreRefusedAndChangeNothing() async throws {
        let subject = makeSubject()
        for uid in Self.invalidUIDs {
            await #expect(throws: IdentityLinkError.invalidUID) { try await store.link(subject, uid: uid, email: nil) }
            await #expect(throws: IdentityLinkError.invalidUID) { try await store.relink(uid: uid, to: subject, email: nil) }
            await #expect(throws: IdentityLinkError.invalidUID) { try await store.links(ofUID: uid) }
            await #expect(throws: IdentityLinkError.invalidUID) { try await store.unlink(uid: uid) }
        }
        let uid = makeTinodeUID()
        let invalidSubjects = [
            ExternalSubject(issuer: "", subject: "s"), ExternalSubject(issuer: "https://a.example", subject: ""),
            ExternalSubject(issuer: "https://a.example", subject: String(repeating: "s", count: 256)),
            ExternalSubject(issuer: String(repeating: "i", count: 1025), subject: "s"),
        ]
        for bad in invalidSubjects {
            await #expect(throws: IdentityLinkError.invalidSubject) { try await store.link(bad, uid: uid, email: nil) }
            await #expect(throws: IdentityLinkError.invalidSubject) { try await store.relink(uid: uid, to: bad, email: nil) }
            await #expect(throws: IdentityLinkError.invalidSubject) { try await store.uid(for: bad) }
            await #expect(throws: IdentityLinkError.invalidSubject) { try await store.adoptLegacyLink(email: "a@b.c", for: bad) }
        }
        await #expect(throws: IdentityLinkError.invalidEmail) { try await store.link(subject, uid: uid, email: "") }
        await #expect(throws: IdentityLinkError.invalidEmail) { try await store.relink(uid: uid, to: subject, email: "") }
        await #expect(throws: IdentityLinkError.invalidEmail) { try await store.adoptLegacyLink(email: "", for: subject) }
        #expect(try await store.uid(for: subject) == nil)
        #expect(try await store.links(ofUID: uid).isEmpty)
        // The edges of what is accepted.
        let longest = ExternalSubject(issuer: String(repeating: "i", count: 1024), subject: String(repeating: "é", count: 127) + "s")
        #expect(try await store.link(longest, uid: "AZaz09-_AZa", email: nil) == .created)
        for edge in ["-----------", "___________", "0123456789Z"] {
            #expect(try await store.link(makeSubject(), uid: edge, email: nil) == .created)
        }
    }

    /// Normalised addresses keep their non-ASCII letters; subjects may be any text.
    func unicodeComesBackByteForByte() async throws {
        let tag = UUID().uuidString.prefix(8)
        let subject = ExternalSubject(issuer: "https://例子.example", subject: "用户-\(tag)-😀")
        let email = "jürgen.müller-\(tag)@exämple.de"
        let uid = makeTinodeUID()
        #expect(try await store.link(subject, uid: uid, email: email) == .created)
        let stored = try #require(try await store.links(ofUID: uid).first)
        #expect(Array(stored.subject.subject.utf8) == Array(subject.subject.utf8))
        #expect(Array(stored.subject.issuer.utf8) == Array(subject.issuer.utf8))
        #expect(stored.email.map { Array($0.utf8) } == Array(email.utf8))
    }

    /// Many AuthPlugin requests linking one new subject at once: exactly one uid gets it.
    func concurrentLinksOfOneSubjectHaveOneWinner(count: Int = 100) async throws {
        let subject = makeSubject()
        let uids = (0..<count).map { _ in makeTinodeUID() }
        let outcomes = try await withThrowingTaskGroup(of: (String, LinkOutcome).self) { group in
            for uid in uids {
                group.addTask { (uid, try await store.link(subject, uid: uid, email: nil)) }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        let winners = outcomes.filter { $0.value == .created }.map(\.key)
        try #require(winners.count == 1, "expected one winner, got \(winners.count)")
        let winner = winners[0]
        for (uid, outcome) in outcomes where uid != winner {
            #expect(outcome == .conflict(existingUID: winner))
            #expect(try await store.links(ofUID: uid).isEmpty)
        }
        #expect(try await store.uid(for: subject) == winner)
    }

    /// Many linked users moving to one subject at once: one moves, the others keep their own subject.
    func concurrentRelinksToOneSubjectHaveOneWinner(count: Int = 50) async throws {
        let target = makeSubject()
        var subjectsByUID: [String: ExternalSubject] = [:]
        for _ in 0..<count {
            let (subject, uid) = (makeSubject(), makeTinodeUID())
            #expect(try await store.link(subject, uid: uid, email: nil) == .created)
            subjectsByUID[uid] = subject
        }
        let outcomes = try await withThrowingTaskGroup(of: (String, LinkOutcome).self) { group in
            for uid in subjectsByUID.keys {
                group.addTask { (uid, try await store.relink(uid: uid, to: target, email: nil)) }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        let winners = outcomes.filter { $0.value == .created }.map(\.key)
        try #require(winners.count == 1, "expected one winner, got \(winners.count)")
        let winner = winners[0]
        #expect(try await store.uid(for: target) == winner)
        #expect(try await store.uid(for: subjectsByUID[winner]!) == nil)
        for (uid, subject) in subjectsByUID where uid != winner {
            #expect(outcomes[uid] == .conflict(existingUID: winner))
            #expect(try await store.uid(for: subject) == uid)
        }
    }

    // MARK: Migration of e-mail links

    func adoptingALegacyLinkRewritesIt() async throws {
        let (email, uid, subject) = (makeLinkEmail(), makeTinodeUID(), makeSubject())
        try await writeLegacyLink(email, uid)
        #expect(try await store.adoptLegacyLink(email: email, for: subject) == uid)
        #expect(try await store.uid(for: subject) == uid)
        #expect(try await store.links(ofUID: uid) == [SubjectLink(subject: subject, uid: uid, email: email)])
        // Adopted once: the legacy link is gone, so another subject adopts nothing.
        #expect(try await store.adoptLegacyLink(email: email, for: makeSubject()) == nil)
        #expect(try await store.links(ofUID: uid).count == 1)
    }

    func adoptingWithoutALegacyLinkDoesNothing() async throws {
        let subject = makeSubject()
        #expect(try await store.adoptLegacyLink(email: makeLinkEmail(), for: subject) == nil)
        #expect(try await store.uid(for: subject) == nil)
    }

    func adoptingForALinkedSubjectAnswersItsUIDAndKeepsTheLegacyLink() async throws {
        let (email, legacyUID, subject, owner) = (makeLinkEmail(), makeTinodeUID(), makeSubject(), makeTinodeUID())
        try await writeLegacyLink(email, legacyUID)
        #expect(try await store.link(subject, uid: owner, email: nil) == .created)
        #expect(try await store.adoptLegacyLink(email: email, for: subject) == owner)
        #expect(try await store.links(ofUID: legacyUID).isEmpty)
        // Still there for a subject that is not linked yet.
        let newcomer = makeSubject()
        #expect(try await store.adoptLegacyLink(email: email, for: newcomer) == legacyUID)
    }

    func aLegacyUIDThatHasASubjectIsNotAdopted() async throws {
        let (email, uid, existing) = (makeLinkEmail(), makeTinodeUID(), makeSubject())
        try await writeLegacyLink(email, uid)
        #expect(try await store.link(existing, uid: uid, email: nil) == .created)
        let newcomer = makeSubject()
        #expect(try await store.adoptLegacyLink(email: email, for: newcomer) == nil)
        #expect(try await store.uid(for: newcomer) == nil)
    }

    /// Many subjects with the same verified address logging in at once: one adopts the legacy link.
    func concurrentAdoptionsHaveOneWinner(count: Int = 50) async throws {
        let (email, uid) = (makeLinkEmail(), makeTinodeUID())
        try await writeLegacyLink(email, uid)
        let subjects = (0..<count).map { _ in makeSubject() }
        let adopted = try await withThrowingTaskGroup(of: (ExternalSubject, String?).self) { group in
            for subject in subjects {
                group.addTask { (subject, try await store.adoptLegacyLink(email: email, for: subject)) }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        let winners = adopted.filter { $0.value != nil }
        try #require(winners.count == 1, "expected one adoption, got \(winners.count)")
        #expect(winners.first?.value == uid)
        #expect(try await store.links(ofUID: uid).map(\.subject) == [winners.first!.key])
    }
}
