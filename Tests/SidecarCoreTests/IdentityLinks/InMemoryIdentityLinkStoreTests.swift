import Testing

@testable import SidecarCore

@Suite("In-memory identity link store")
struct InMemoryIdentityLinkStoreTests {
    let behaviour = IdentityLinkStoreBehaviour(store: InMemoryIdentityLinkStore())

    @Test("link stores the e-mail -> uid link in both directions")
    func link() async throws { try await behaviour.linkCreatesBothDirections() }

    @Test("linking the same pair again is idempotent")
    func idempotent() async throws { try await behaviour.linkingTheSamePairAgainChangesNothing() }

    @Test("linking another uid to a linked e-mail is a conflict and changes nothing")
    func conflict() async throws { try await behaviour.linkingAnotherUIDToALinkedEmailIsAConflict() }

    @Test("linking a uid that has another e-mail is refused and changes nothing")
    func uidHasOtherEmail() async throws { try await behaviour.linkingAUIDThatHasAnotherEmailIsRefused() }

    @Test("a conflict on the e-mail is reported before the uid's other e-mail")
    func conflictFirst() async throws { try await behaviour.conflictIsReportedBeforeTheUIDsOtherEmail() }

    @Test("relink moves the uid and frees the old e-mail")
    func relinkMoves() async throws { try await behaviour.relinkMovesTheUIDAndFreesTheOldEmail() }

    @Test("relink of an unlinked uid creates the link")
    func relinkCreates() async throws { try await behaviour.relinkOfAnUnlinkedUIDCreatesTheLink() }

    @Test("relink to the same e-mail is idempotent")
    func relinkSame() async throws { try await behaviour.relinkToTheSameEmailChangesNothing() }

    @Test("relink to another uid's e-mail is a conflict and changes nothing")
    func relinkConflict() async throws { try await behaviour.relinkToAnotherUIDsEmailIsAConflict() }

    @Test("unlink removes both directions and reports whether there was a link")
    func unlink() async throws { try await behaviour.unlinkRemovesBothDirections() }

    @Test("unknown e-mails and uids read as nil")
    func unknown() async throws { try await behaviour.unknownKeysReadAsNil() }

    @Test("malformed uids are refused by every operation")
    func invalidUID() async throws { try await behaviour.invalidUIDsAreRefusedAndChangeNothing() }

    @Test("an empty e-mail is refused by every operation")
    func invalidEmail() async throws { try await behaviour.emptyEmailIsRefusedAndChangesNothing() }

    @Test("Unicode e-mails work as keys and come back byte for byte")
    func unicode() async throws { try await behaviour.unicodeEmailsAreKeys() }

    @Test("canonically equivalent spellings are different e-mails, as in Valkey")
    func equivalentSpellings() async throws { try await behaviour.equivalentSpellingsAreDifferentEmails() }

    @Test("concurrent links of one e-mail: exactly one uid wins")
    func concurrentEmail() async throws { try await behaviour.concurrentLinksOfOneEmailHaveOneWinner() }

    @Test("concurrent links of one uid: exactly one e-mail wins")
    func concurrentUID() async throws { try await behaviour.concurrentLinksOfOneUIDHaveOneWinner() }

    @Test("concurrent relinks to one e-mail: exactly one uid moves")
    func concurrentRelink() async throws { try await behaviour.concurrentRelinksToOneEmailHaveOneWinner() }
}
