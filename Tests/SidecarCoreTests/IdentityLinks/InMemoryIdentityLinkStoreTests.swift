import Testing

@testable import SidecarCore

@Suite("In-memory identity link store")
struct InMemoryIdentityLinkStoreTests {
    let behaviour: IdentityLinkStoreBehaviour = {
        let store = InMemoryIdentityLinkStore()
        return IdentityLinkStoreBehaviour(store: store) { email, uid in await store.addLegacyLink(email: email, uid: uid) }
    }()

    @Test("link stores subject -> uid with the address as an attribute")
    func link() async throws { try await behaviour.linkCreatesBothDirections() }

    @Test("linking the same pair again is idempotent and keeps the first address")
    func idempotent() async throws { try await behaviour.linkingTheSamePairAgainChangesNothing() }

    @Test("linking a linked subject to another uid is a conflict and changes nothing")
    func conflict() async throws { try await behaviour.linkingALinkedSubjectToAnotherUIDIsAConflict() }

    @Test("a uid may have several subjects")
    func severalSubjects() async throws { try await behaviour.aUIDMayHaveSeveralSubjects() }

    @Test("relink moves the uid and frees its other subjects")
    func relinkMoves() async throws { try await behaviour.relinkMovesTheUIDAndFreesItsOtherSubjects() }

    @Test("relink of an unlinked uid creates the link")
    func relinkCreates() async throws { try await behaviour.relinkOfAnUnlinkedUIDCreatesTheLink() }

    @Test("relink to the uid's only subject is idempotent")
    func relinkSame() async throws { try await behaviour.relinkToTheOnlySubjectChangesNothing() }

    @Test("relink to another uid's subject is a conflict and changes nothing")
    func relinkConflict() async throws { try await behaviour.relinkToAnotherUIDsSubjectIsAConflict() }

    @Test("unlink removes every subject of the uid and reports whether there was one")
    func unlink() async throws { try await behaviour.unlinkRemovesEveryLinkOfTheUID() }

    @Test("unlink removes an e-mail link of the old layout too")
    func unlinkLegacy() async throws { try await behaviour.unlinkRemovesALegacyLinkToo() }

    @Test("unknown subjects and uids read as nil")
    func unknown() async throws { try await behaviour.unknownKeysReadAsNil() }

    @Test("(iss, sub) pairs are encoded unambiguously and compared byte for byte")
    func distinctPairs() async throws { try await behaviour.subjectsAreDistinctPairs() }

    @Test("malformed uids, subjects and addresses are refused by every operation")
    func invalid() async throws { try await behaviour.invalidInputsAreRefusedAndChangeNothing() }

    @Test("Unicode subjects and addresses come back byte for byte")
    func unicode() async throws { try await behaviour.unicodeComesBackByteForByte() }

    @Test("concurrent links of one subject: exactly one uid wins")
    func concurrentSubject() async throws { try await behaviour.concurrentLinksOfOneSubjectHaveOneWinner() }

    @Test("concurrent relinks to one subject: exactly one uid moves")
    func concurrentRelink() async throws { try await behaviour.concurrentRelinksToOneSubjectHaveOneWinner() }

    @Test("adopting a legacy e-mail link rewrites it as a subject link")
    func adopt() async throws { try await behaviour.adoptingALegacyLinkRewritesIt() }

    @Test("adopting without a legacy link does nothing")
    func adoptNothing() async throws { try await behaviour.adoptingWithoutALegacyLinkDoesNothing() }

    @Test("adopting for a linked subject answers its uid and keeps the legacy link")
    func adoptLinked() async throws { try await behaviour.adoptingForALinkedSubjectAnswersItsUIDAndKeepsTheLegacyLink() }

    @Test("a legacy uid that has a subject already is not adopted")
    func adoptTaken() async throws { try await behaviour.aLegacyUIDThatHasASubjectIsNotAdopted() }

    @Test("concurrent adoptions of one legacy link: exactly one subject wins")
    func concurrentAdopt() async throws { try await behaviour.concurrentAdoptionsHaveOneWinner() }
}
