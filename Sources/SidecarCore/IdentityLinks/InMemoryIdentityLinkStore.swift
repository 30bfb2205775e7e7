/// An ``IdentityLinkStore`` inside the process, for trying the programs without Valkey.
///
/// Links are lost on restart, after which Tinode's users created for external e-mails can no longer be
/// found by e-mail, so production deployments use ``ValkeyIdentityLinkStore``. The actor runs one
/// operation at a time, which gives the same atomicity as the Valkey store's scripts.
public actor InMemoryIdentityLinkStore: IdentityLinkStore {
    /// An e-mail compared by its UTF-8 bytes, as Valkey compares keys. Swift's `String` equality treats
    /// canonically equivalent spellings as equal, which would make this store disagree with Valkey.
    private struct EmailKey: Hashable {
        let bytes: [UInt8]

        init(_ email: String) { bytes = Array(email.utf8) }

        var email: String { String(decoding: bytes, as: UTF8.self) }
    }

    private var uidByEmail: [EmailKey: String] = [:]
    private var emailByUID: [String: EmailKey] = [:]

    public init() {}

    public func link(email: String, uid: String) async throws -> LinkOutcome {
        try IdentityLinkInput.check(uid: uid)
        try IdentityLinkInput.check(email: email)
        let key = EmailKey(email)
        if let owner = uidByEmail[key] {
            return owner == uid ? .alreadyLinked : .conflict(existingUID: owner)
        }
        if let current = emailByUID[uid] {
            return .uidHasOtherEmail(current.email)
        }
        uidByEmail[key] = uid
        emailByUID[uid] = key
        return .created
    }

    public func relink(uid: String, email: String) async throws -> LinkOutcome {
        try IdentityLinkInput.check(uid: uid)
        try IdentityLinkInput.check(email: email)
        let key = EmailKey(email)
        let owner = uidByEmail[key]
        if let owner, owner != uid {
            return .conflict(existingUID: owner)
        }
        let previous = emailByUID[uid]
        if owner != nil, previous == key {
            return .alreadyLinked
        }
        if let previous, previous != key, uidByEmail[previous] == uid {
            uidByEmail[previous] = nil
        }
        uidByEmail[key] = uid
        emailByUID[uid] = key
        return .created
    }

    public func uid(forEmail email: String) async throws -> String? {
        try IdentityLinkInput.check(email: email)
        return uidByEmail[EmailKey(email)]
    }

    public func email(forUID uid: String) async throws -> String? {
        try IdentityLinkInput.check(uid: uid)
        return emailByUID[uid]?.email
    }

    public func unlink(uid: String) async throws -> Bool {
        try IdentityLinkInput.check(uid: uid)
        guard let key = emailByUID.removeValue(forKey: uid) else { return false }
        if uidByEmail[key] == uid {
            uidByEmail[key] = nil
        }
        return true
    }
}
