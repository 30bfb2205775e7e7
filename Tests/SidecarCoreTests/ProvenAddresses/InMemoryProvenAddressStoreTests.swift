import Testing

@testable import SidecarCore

@Suite("In-memory proven-address store")
struct InMemoryProvenAddressStoreTests {
    let behaviour = ProvenAddressStoreBehaviour(store: InMemoryProvenAddressStore())

    @Test("prove stores the owner and the uid's address")
    func prove() async throws { try await behaviour.proveStoresBothDirections() }

    @Test("proving again for the same uid keeps the first proof")
    func again() async throws { try await behaviour.provingAgainKeepsTheFirstProof() }

    @Test("the first proof wins; another uid gets a conflict")
    func firstWins() async throws { try await behaviour.theFirstProofWins() }

    @Test("a uid may prove several addresses, listed by their bytes")
    func several() async throws { try await behaviour.aUIDMayProveSeveralAddresses() }

    @Test("forget drops every proof of the uid and nobody else's")
    func forget() async throws { try await behaviour.forgetDropsEveryProofOfTheUIDOnly() }

    @Test("unknown addresses and uids read as nothing")
    func unknown() async throws { try await behaviour.unknownReadsAsNothing() }

    @Test("malformed uids and empty addresses are refused by every operation")
    func invalid() async throws { try await behaviour.invalidInputsAreRefusedAndChangeNothing() }

    @Test("canonically equivalent spellings are different addresses")
    func spellings() async throws { try await behaviour.equivalentSpellingsAreDifferentAddresses() }

    @Test("concurrent proofs of one address: exactly one uid wins")
    func concurrent() async throws { try await behaviour.concurrentProofsOfOneAddressHaveOneWinner() }
}
