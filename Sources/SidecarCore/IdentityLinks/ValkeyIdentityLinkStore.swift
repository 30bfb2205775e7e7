import Valkey

/// The production ``IdentityLinkStore``: links live in Valkey, shared by every AuthPlugin process.
///
/// Keys, under a configurable prefix (default `sidecar:`), both without expiry because a link must
/// outlive any session (losing it would orphan the Tinode user created for the e-mail):
/// * `<prefix>link:email:<email>`: the uid;
/// * `<prefix>link:uid:<uid>`: the e-mail.
///
/// Every operation that reads before it writes is one Lua script, which the server runs atomically: of
/// many processes linking different uids to one new e-mail at the same moment, exactly one wins and the
/// others see the conflict. The scripts of ``relink(uid:email:)`` and ``unlink(uid:)`` also touch the key
/// of an e-mail they only learn inside the script, so the store needs a single primary (as the token store
/// does), not a Valkey Cluster.
public struct ValkeyIdentityLinkStore: IdentityLinkStore {
    private let client: ValkeyClient
    private let keyPrefix: String

    public init(client: ValkeyClient, keyPrefix: String = "sidecar:") {
        self.client = client
        self.keyPrefix = keyPrefix
    }

    public func link(email: String, uid: String) async throws -> LinkOutcome {
        try IdentityLinkInput.check(uid: uid)
        try IdentityLinkInput.check(email: email)
        let reply = try await backend {
            try await client.evaluate(Self.linkScript, keys: [emailKey(email), uidKey(uid)], arguments: [uid, email])
        }
        return try Self.outcome(of: reply, script: "link")
    }

    public func relink(uid: String, email: String) async throws -> LinkOutcome {
        try IdentityLinkInput.check(uid: uid)
        try IdentityLinkInput.check(email: email)
        let reply = try await backend {
            try await client.evaluate(
                Self.relinkScript,
                keys: [emailKey(email), uidKey(uid)],
                arguments: [uid, email, emailKeyPrefix]
            )
        }
        return try Self.outcome(of: reply, script: "relink")
    }

    public func uid(forEmail email: String) async throws -> String? {
        try IdentityLinkInput.check(email: email)
        return try await backend { try await client.getString(emailKey(email)) }
    }

    public func email(forUID uid: String) async throws -> String? {
        try IdentityLinkInput.check(uid: uid)
        return try await backend { try await client.getString(uidKey(uid)) }
    }

    public func unlink(uid: String) async throws -> Bool {
        try IdentityLinkInput.check(uid: uid)
        let reply = try await backend {
            try await client.evaluate(Self.unlinkScript, keys: [uidKey(uid)], arguments: [uid, emailKeyPrefix])
        }
        guard let removed = reply.integer else {
            throw IdentityLinkError.backend(.protocol(reason: "unexpected reply to the unlink script"))
        }
        return removed == 1
    }

    private var emailKeyPrefix: String { keyPrefix + "link:email:" }

    private func emailKey(_ email: String) -> String { emailKeyPrefix + email }

    private func uidKey(_ uid: String) -> String { keyPrefix + "link:uid:" + uid }

    /// Surfaces every Valkey failure as ``IdentityLinkError/backend(_:)`` so callers have one type to map.
    private func backend<T>(_ operation: () async throws -> T) async throws -> T {
        do {
            return try await operation()
        } catch let error as ValkeyError {
            throw IdentityLinkError.backend(error)
        }
    }

    /// Reads the `{tag[, value]}` array that the link and relink scripts return.
    private static func outcome(of reply: RESPValue, script: String) throws(IdentityLinkError) -> LinkOutcome {
        let parts = reply.array ?? []
        switch (parts.first?.string, parts.count) {
        case ("created", 1):
            return .created
        case ("linked", 1):
            return .alreadyLinked
        case ("conflict", 2):
            if let owner = parts[1].string { return .conflict(existingUID: owner) }
        case ("other", 2):
            if let email = parts[1].string { return .uidHasOtherEmail(email) }
        default:
            break
        }
        throw .backend(.protocol(reason: "unexpected reply to the \(script) script"))
    }

    /// KEYS: e-mail key, uid key. ARGV: uid, e-mail.
    /// Returns `{'created'}`, `{'linked'}`, `{'conflict', owner uid}` or `{'other', uid's e-mail}`.
    private static let linkScript = ValkeyScript(
        """
        local owner = redis.call('GET', KEYS[1])
        if owner then
          if owner == ARGV[1] then
            return {'linked'}
          end
          return {'conflict', owner}
        end
        local current = redis.call('GET', KEYS[2])
        if current then
          return {'other', current}
        end
        redis.call('SET', KEYS[1], ARGV[1])
        redis.call('SET', KEYS[2], ARGV[2])
        return {'created'}
        """
    )

    /// KEYS: new e-mail key, uid key. ARGV: uid, new e-mail, e-mail key prefix.
    /// Returns `{'created'}`, `{'linked'}` or `{'conflict', owner uid}`. The old e-mail's key is deleted only
    /// while it still points at this uid, so a relink can never free an e-mail that another user holds.
    private static let relinkScript = ValkeyScript(
        """
        local owner = redis.call('GET', KEYS[1])
        if owner and owner ~= ARGV[1] then
          return {'conflict', owner}
        end
        local previous = redis.call('GET', KEYS[2])
        if owner and previous == ARGV[2] then
          return {'linked'}
        end
        if previous and previous ~= ARGV[2] then
          local previousKey = ARGV[3] .. previous
          if redis.call('GET', previousKey) == ARGV[1] then
            redis.call('DEL', previousKey)
          end
        end
        redis.call('SET', KEYS[1], ARGV[1])
        redis.call('SET', KEYS[2], ARGV[2])
        return {'created'}
        """
    )

    /// KEYS: uid key. ARGV: uid, e-mail key prefix. Returns 1 when the uid was linked, 0 otherwise.
    private static let unlinkScript = ValkeyScript(
        """
        local email = redis.call('GET', KEYS[1])
        if not email then
          return 0
        end
        redis.call('DEL', KEYS[1])
        local emailKey = ARGV[2] .. email
        if redis.call('GET', emailKey) == ARGV[1] then
          redis.call('DEL', emailKey)
        end
        return 1
        """
    )
}
