import Foundation
import Testing

@testable import SidecarCore

/// What every ``IdentityLinkStore`` must do, written once and checked against each implementation.
struct IdentityLinkStoreBehaviour {
    let store: any IdentityLinkStore

    func linkCreatesBothDirections() async throws {
        let (email, uid) = (makeLinkEmail(), makeTinodeUID())
        #expect(try await store.link(email: email, uid: uid) == .created)
        #expect(try await store.uid(forEmail: email) == uid)
        #expect(try await store.email(forUID: uid) == email)
    }

    func linkingTheSamePairAgainChangesNothing() async throws {
        let (email, uid) = (makeLinkEmail(), makeTinodeUID())
        #expect(try await store.link(email: email, uid: uid) == .created)
        #expect(try await store.link(email: email, uid: uid) == .alreadyLinked)
        #expect(try await store.link(email: email, uid: uid) == .alreadyLinked)
        #expect(try await store.uid(forEmail: email) == uid)
        #expect(try await store.email(forUID: uid) == email)
    }

    func linkingAnotherUIDToALinkedEmailIsAConflict() async throws {
        let (email, owner, intruder) = (makeLinkEmail(), makeTinodeUID(), makeTinodeUID())
        #expect(try await store.link(email: email, uid: owner) == .created)
        #expect(try await store.link(email: email, uid: intruder) == .conflict(existingUID: owner))
        #expect(try await store.uid(forEmail: email) == owner)
        #expect(try await store.email(forUID: intruder) == nil)
    }

    func linkingAUIDThatHasAnotherEmailIsRefused() async throws {
        let (first, second, uid) = (makeLinkEmail(), makeLinkEmail(), makeTinodeUID())
        #expect(try await store.link(email: first, uid: uid) == .created)
        #expect(try await store.link(email: second, uid: uid) == .uidHasOtherEmail(first))
        #expect(try await store.uid(forEmail: second) == nil)
        #expect(try await store.email(forUID: uid) == first)
        #expect(try await store.uid(forEmail: first) == uid)
    }

    func conflictIsReportedBeforeTheUIDsOtherEmail() async throws {
        let (email, owner) = (makeLinkEmail(), makeTinodeUID())
        let (otherEmail, otherUID) = (makeLinkEmail(), makeTinodeUID())
        #expect(try await store.link(email: email, uid: owner) == .created)
        #expect(try await store.link(email: otherEmail, uid: otherUID) == .created)
        #expect(try await store.link(email: email, uid: otherUID) == .conflict(existingUID: owner))
        #expect(try await store.email(forUID: otherUID) == otherEmail)
    }

    func relinkMovesTheUIDAndFreesTheOldEmail() async throws {
        let (old, new, uid) = (makeLinkEmail(), makeLinkEmail(), makeTinodeUID())
        #expect(try await store.link(email: old, uid: uid) == .created)
        #expect(try await store.relink(uid: uid, email: new) == .created)
        #expect(try await store.email(forUID: uid) == new)
        #expect(try await store.uid(forEmail: new) == uid)
        #expect(try await store.uid(forEmail: old) == nil)
        // The freed e-mail can be taken by someone else.
        let newcomer = makeTinodeUID()
        #expect(try await store.link(email: old, uid: newcomer) == .created)
        #expect(try await store.uid(forEmail: new) == uid)
    }

    func relinkOfAnUnlinkedUIDCreatesTheLink() async throws {
        let (email, uid) = (makeLinkEmail(), makeTinodeUID())
        #expect(try await store.relink(uid: uid, email: email) == .created)
        #expect(try await store.uid(forEmail: email) == uid)
        #expect(try await store.email(forUID: uid) == email)
    }

    func relinkToTheSameEmailChangesNothing() async throws {
        let (email, uid) = (makeLinkEmail(), makeTinodeUID())
        #expect(try await store.link(email: email, uid: uid) == .created)
        #expect(try await store.relink(uid: uid, email: email) == .alreadyLinked)
        #expect(try await store.uid(forEmail: email) == uid)
        #expect(try await store.email(forUID: uid) == email)
    }

    func relinkToAnotherUIDsEmailIsAConflict() async throws {
        let (ownerEmail, owner) = (makeLinkEmail(), makeTinodeUID())
        let (moverEmail, mover) = (makeLinkEmail(), makeTinodeUID())
        #expect(try await store.link(email: ownerEmail, uid: owner) == .created)
        #expect(try await store.link(email: moverEmail, uid: mover) == .created)
        #expect(try await store.relink(uid: mover, email: ownerEmail) == .conflict(existingUID: owner))
        // Nothing moved: both keep their e-mail, in both directions.
        #expect(try await store.uid(forEmail: ownerEmail) == owner)
        #expect(try await store.email(forUID: owner) == ownerEmail)
        #expect(try await store.uid(forEmail: moverEmail) == mover)
        #expect(try await store.email(forUID: mover) == moverEmail)
    }

    func unlinkRemovesBothDirections() async throws {
        let (email, uid) = (makeLinkEmail(), makeTinodeUID())
        let (otherEmail, otherUID) = (makeLinkEmail(), makeTinodeUID())
        #expect(try await store.link(email: email, uid: uid) == .created)
        #expect(try await store.link(email: otherEmail, uid: otherUID) == .created)
        #expect(try await store.unlink(uid: uid) == true)
        #expect(try await store.uid(forEmail: email) == nil)
        #expect(try await store.email(forUID: uid) == nil)
        #expect(try await store.unlink(uid: uid) == false)
        #expect(try await store.unlink(uid: makeTinodeUID()) == false)
        // Other links stay, and the unlinked e-mail and uid are free again.
        #expect(try await store.uid(forEmail: otherEmail) == otherUID)
        #expect(try await store.link(email: email, uid: makeTinodeUID()) == .created)
        #expect(try await store.link(email: makeLinkEmail(), uid: uid) == .created)
    }

    func unknownKeysReadAsNil() async throws {
        #expect(try await store.uid(forEmail: makeLinkEmail()) == nil)
        #expect(try await store.email(forUID: makeTinodeUID()) == nil)
    }

    /// Wrong lengths, the `usr` prefix, standard-base64 and padding characters, a `:` that would reach into
    /// another key, white space, and non-ASCII letters (11 characters but more bytes).
    static let invalidUIDs = [
        "", "abc", "AbCdEfGhIj", "AbCdEfGhIjKl", "usrAbCdEfGhIjK", "AbCdEfGhIj+", "AbCdEfGhIj/", "AbCdEfGhIj=",
        "AbCdE:GhIjK", "AbCdEfGhIj ", "AbCdEfGhIj\n", "AbCdEfGhIjé", "ÄbCdEfGhIjK",
    ]

    func invalidUIDsAreRefusedAndChangeNothing() async throws {
        let email = makeLinkEmail()
        for uid in Self.invalidUIDs {
            await #expect(throws: IdentityLinkError.invalidUID) { try await store.link(email: email, uid: uid) }
            await #expect(throws: IdentityLinkError.invalidUID) { try await store.relink(uid: uid, email: email) }
            await #expect(throws: IdentityLinkError.invalidUID) { try await store.email(forUID: uid) }
            await #expect(throws: IdentityLinkError.invalidUID) { try await store.unlink(uid: uid) }
        }
        #expect(try await store.uid(forEmail: email) == nil)
        // The alphabet's edge characters are all valid.
        for uid in ["AZaz09-_AZa", "-----------", "___________", "0123456789Z"] {
            #expect(try await store.link(email: makeLinkEmail(), uid: uid) == .created)
        }
    }

    func emptyEmailIsRefusedAndChangesNothing() async throws {
        let uid = makeTinodeUID()
        await #expect(throws: IdentityLinkError.invalidEmail) { try await store.link(email: "", uid: uid) }
        await #expect(throws: IdentityLinkError.invalidEmail) { try await store.relink(uid: uid, email: "") }
        await #expect(throws: IdentityLinkError.invalidEmail) { try await store.uid(forEmail: "") }
        #expect(try await store.email(forUID: uid) == nil)
    }

    /// Normalised addresses keep their non-ASCII letters; they must work as keys and come back byte for byte.
    func unicodeEmailsAreKeys() async throws {
        let emails = [
            "jürgen.müller-\(UUID().uuidString.prefix(8))@exämple.de",
            "用户\(UUID().uuidString.prefix(8))@例子.中国",
            "δοκιμή\(UUID().uuidString.prefix(8))@παράδειγμα.ελ",
            "😀\(UUID().uuidString.prefix(8))@example.com",
        ]
        var uids: [String] = []
        for email in emails {
            let uid = makeTinodeUID()
            uids.append(uid)
            #expect(try await store.link(email: email, uid: uid) == .created)
        }
        for (email, uid) in zip(emails, uids) {
            #expect(try await store.uid(forEmail: email) == uid)
            let stored = try #require(try await store.email(forUID: uid))
            #expect(Array(stored.utf8) == Array(email.utf8))
        }
        #expect(try await store.link(email: emails[0], uid: uids[1]) == .conflict(existingUID: uids[0]))
        #expect(try await store.relink(uid: uids[0], email: emails[0] + ".at") == .created)
        #expect(try await store.uid(forEmail: emails[0]) == nil)
        #expect(try await store.unlink(uid: uids[1]) == true)
        #expect(try await store.uid(forEmail: emails[1]) == nil)
    }

    /// The store compares bytes, as Valkey does; normalising is the caller's job. Swift's `String` equality
    /// would call these two spellings equal, and the in-memory store must not.
    func equivalentSpellingsAreDifferentEmails() async throws {
        let tag = UUID().uuidString.prefix(8)
        let composed = "jos\u{E9}\(tag)@example.com"
        let decomposed = "jose\u{301}\(tag)@example.com"
        let (first, second) = (makeTinodeUID(), makeTinodeUID())
        #expect(try await store.link(email: composed, uid: first) == .created)
        #expect(try await store.uid(forEmail: decomposed) == nil)
        #expect(try await store.link(email: decomposed, uid: second) == .created)
        let stored = try #require(try await store.email(forUID: second))
        #expect(Array(stored.utf8) == Array(decomposed.utf8))
        #expect(try await store.relink(uid: first, email: decomposed) == .conflict(existingUID: second))
    }

    /// Many AuthPlugin requests creating users for one new e-mail at once: exactly one uid gets it.
    func concurrentLinksOfOneEmailHaveOneWinner(count: Int = 100) async throws {
        let email = makeLinkEmail()
        let uids = (0..<count).map { _ in makeTinodeUID() }
        let outcomes = try await withThrowingTaskGroup(of: (String, LinkOutcome).self) { group in
            for uid in uids {
                group.addTask { (uid, try await store.link(email: email, uid: uid)) }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        let winners = outcomes.filter { $0.value == .created }.map(\.key)
        try #require(winners.count == 1, "expected one winner, got \(winners.count)")
        let winner = winners[0]
        for (uid, outcome) in outcomes where uid != winner {
            #expect(outcome == .conflict(existingUID: winner))
        }
        #expect(try await store.uid(forEmail: email) == winner)
        #expect(try await store.email(forUID: winner) == email)
        for uid in uids where uid != winner {
            #expect(try await store.email(forUID: uid) == nil)
        }
    }

    /// One uid linked to many e-mails at once: exactly one e-mail gets it, no other e-mail is left behind.
    func concurrentLinksOfOneUIDHaveOneWinner(count: Int = 100) async throws {
        let uid = makeTinodeUID()
        let emails = (0..<count).map { _ in makeLinkEmail() }
        let outcomes = try await withThrowingTaskGroup(of: (String, LinkOutcome).self) { group in
            for email in emails {
                group.addTask { (email, try await store.link(email: email, uid: uid)) }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        let winners = outcomes.filter { $0.value == .created }.map(\.key)
        try #require(winners.count == 1, "expected one winner, got \(winners.count)")
        let winner = winners[0]
        for (email, outcome) in outcomes where email != winner {
            #expect(outcome == .uidHasOtherEmail(winner))
        }
        #expect(try await store.email(forUID: uid) == winner)
        for email in emails where email != winner {
            #expect(try await store.uid(forEmail: email) == nil)
        }
    }

    /// Many linked users moving to one e-mail at once: one moves, the others keep their own e-mail.
    func concurrentRelinksToOneEmailHaveOneWinner(count: Int = 50) async throws {
        let target = makeLinkEmail()
        var emailsByUID: [String: String] = [:]
        for _ in 0..<count {
            let (email, uid) = (makeLinkEmail(), makeTinodeUID())
            #expect(try await store.link(email: email, uid: uid) == .created)
            emailsByUID[uid] = email
        }
        let outcomes = try await withThrowingTaskGroup(of: (String, LinkOutcome).self) { group in
            for uid in emailsByUID.keys {
                group.addTask { (uid, try await store.relink(uid: uid, email: target)) }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        let winners = outcomes.filter { $0.value == .created }.map(\.key)
        try #require(winners.count == 1, "expected one winner, got \(winners.count)")
        let winner = winners[0]
        #expect(try await store.uid(forEmail: target) == winner)
        #expect(try await store.email(forUID: winner) == target)
        #expect(try await store.uid(forEmail: emailsByUID[winner]!) == nil)
        for (uid, email) in emailsByUID where uid != winner {
            #expect(outcomes[uid] == .conflict(existingUID: winner))
            #expect(try await store.email(forUID: uid) == email)
            #expect(try await store.uid(forEmail: email) == uid)
        }
    }
}
