/// An ``IdentityLinkStore`` inside the process, for trying the programs without Valkey.
///
/// Links are lost on restart, after which Tinode's users created for external subjects can no longer
/// be found, so production deployments use ``ValkeyIdentityLinkStore``. The actor runs one operation
/// at a time, which gives the same atomicity as the Valkey store's scripts. Subjects are keyed by
/// ``ExternalSubject/digest`` and e-mails by their UTF-8 bytes, as in Valkey.
public actor InMemoryIdentityLinkStore: IdentityLinkStore {
    /// An e-mail compared by its UTF-8 bytes, as Valkey compares keys. Swift's `String` equality treats
    /// canonically equivalent spellings as equal, which would make this store disagree with Valkey.
    private struct EmailKey: Hashable {
        let bytes: [UInt8]

        init(_ email: String) { bytes = Array(email.utf8) }
    }

    private var linkByDigest: [String: SubjectLink] = [:]
    private var digestsByUID: [String: Set<String>] = [:]
    /// E-mail links of the old layout; only tests put any here (``addLegacyLink(email:uid:)``).
    private var legacyUIDByEmail: [EmailKey: String] = [:]
    private var legacyEmailByUID: [String: EmailKey] = [:]

    public init() {}

    public func link(_ subject: ExternalSubject, uid: String, email: String?) async throws -> LinkOutcome {
        try IdentityLinkInput.check(subject: subject)
        try IdentityLinkInput.check(uid: uid)
        try IdentityLinkInput.check(email: email)
        let digest = subject.digest
        if let owner = linkByDigest[digest]?.uid {
            return owner == uid ? .alreadyLinked : .conflict(existingUID: owner)
        }
        store(SubjectLink(subject: subject, uid: uid, email: email), digest: digest)
        return .created
    }

    public func relink(uid: String, to subject: ExternalSubject, email: String?) async throws -> LinkOutcome {
        try IdentityLinkInput.check(subject: subject)
        try IdentityLinkInput.check(uid: uid)
        try IdentityLinkInput.check(email: email)
        let digest = subject.digest
        let owner = linkByDigest[digest]?.uid
        if let owner, owner != uid {
            return .conflict(existingUID: owner)
        }
        let current = digestsByUID[uid] ?? []
        if owner != nil, current == [digest] {
            return .alreadyLinked
        }
        for other in current where other != digest && linkByDigest[other]?.uid == uid {
            linkByDigest[other] = nil
        }
        digestsByUID[uid] = []
        store(SubjectLink(subject: subject, uid: uid, email: email), digest: digest)
        return .created
    }

    public func uid(for subject: ExternalSubject) async throws -> String? {
        try IdentityLinkInput.check(subject: subject)
        return linkByDigest[subject.digest]?.uid
    }

    public func links(ofUID uid: String) async throws -> [SubjectLink] {
        try IdentityLinkInput.check(uid: uid)
        return (digestsByUID[uid] ?? []).sorted().compactMap { digest in
            linkByDigest[digest].flatMap { $0.uid == uid ? $0 : nil }
        }
    }

    public func unlink(uid: String) async throws -> Bool {
        try IdentityLinkInput.check(uid: uid)
        var removed = false
        if let digests = digestsByUID.removeValue(forKey: uid) {
            removed = !digests.isEmpty
            for digest in digests where linkByDigest[digest]?.uid == uid {
                linkByDigest[digest] = nil
            }
        }
        if let key = legacyEmailByUID.removeValue(forKey: uid) {
            removed = true
            if legacyUIDByEmail[key] == uid {
                legacyUIDByEmail[key] = nil
            }
        }
        return removed
    }

    public func adoptLegacyLink(email: String, for subject: ExternalSubject) async throws -> String? {
        try IdentityLinkInput.check(subject: subject)
        try IdentityLinkInput.check(email: email)
        let key = EmailKey(email)
        guard let uid = legacyUIDByEmail[key] else { return nil }
        let digest = subject.digest
        if let owner = linkByDigest[digest]?.uid { return owner }
        guard digestsByUID[uid, default: []].isEmpty else { return nil }
        store(SubjectLink(subject: subject, uid: uid, email: email), digest: digest)
        legacyUIDByEmail[key] = nil
        if legacyEmailByUID[uid] == key {
            legacyEmailByUID[uid] = nil
        }
        return uid
    }

    /// Writes an e-mail link of the old layout, as deployed Valkeys hold them (tests of the migration).
    func addLegacyLink(email: String, uid: String) {
        legacyUIDByEmail[EmailKey(email)] = uid
        legacyEmailByUID[uid] = EmailKey(email)
    }

    private func store(_ link: SubjectLink, digest: String) {
        linkByDigest[digest] = link
        digestsByUID[link.uid, default: []].insert(digest)
    }
}
