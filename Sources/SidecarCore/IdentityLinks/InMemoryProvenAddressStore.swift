/// A ``ProvenAddressStore`` inside the process, for trying the programs without Valkey.
///
/// Proofs are lost on restart and are not shared between the Gateway and AuthPlugin, so a verified
/// external token never finds an account the Gateway proved: production uses
/// ``ValkeyProvenAddressStore``. The actor runs one operation at a time, which gives the same
/// atomicity as the Valkey store's scripts.
public actor InMemoryProvenAddressStore: ProvenAddressStore {
    /// An address compared by its UTF-8 bytes, as Valkey compares keys (Swift's `String` equality
    /// would treat canonically equivalent spellings as one address).
    private struct EmailKey: Hashable, Comparable {
        let bytes: [UInt8]

        init(_ email: String) { bytes = Array(email.utf8) }

        var email: String { String(decoding: bytes, as: UTF8.self) }

        static func < (lhs: EmailKey, rhs: EmailKey) -> Bool { lhs.bytes.lexicographicallyPrecedes(rhs.bytes) }
    }

    private var ownerByEmail: [EmailKey: ProvenAddress] = [:]
    private var emailsByUID: [String: Set<EmailKey>] = [:]

    public init() {}

    public func prove(email: String, uid: String, by proof: AddressProof) async throws -> ProofOutcome {
        try IdentityLinkInput.check(uid: uid)
        try IdentityLinkInput.check(email: email)
        let key = EmailKey(email)
        if let owner = ownerByEmail[key] {
            return owner.uid == uid ? .alreadyProven : .conflict(existingUID: owner.uid)
        }
        ownerByEmail[key] = ProvenAddress(uid: uid, proof: proof)
        emailsByUID[uid, default: []].insert(key)
        return .created
    }

    public func owner(ofEmail email: String) async throws -> ProvenAddress? {
        try IdentityLinkInput.check(email: email)
        return ownerByEmail[EmailKey(email)]
    }

    public func addresses(ofUID uid: String) async throws -> [String] {
        try IdentityLinkInput.check(uid: uid)
        return (emailsByUID[uid] ?? []).sorted().map(\.email)
    }

    public func forget(uid: String) async throws {
        try IdentityLinkInput.check(uid: uid)
        for key in emailsByUID.removeValue(forKey: uid) ?? [] where ownerByEmail[key]?.uid == uid {
            ownerByEmail[key] = nil
        }
    }
}
