import Valkey

/// The production ``IdentityLinkStore``: links live in Valkey, shared by every AuthPlugin process.
///
/// Keys, under a configurable prefix (default `sidecar:`), all without expiry because a link must
/// outlive any session (losing it would orphan the Tinode user created for the subject):
/// * `<prefix>link:subject:<digest>`: a hash `{uid, iss, sub[, email]}`, where `<digest>` is
///   ``ExternalSubject/digest`` (collision-free whatever `iss` and `sub` hold);
/// * `<prefix>link:subjects:<uid>`: the set of the uid's subject digests.
///
/// Links of the old layout, keyed by e-mail, are still read and removed, never written:
/// * `<prefix>link:email:<email>`: the uid;
/// * `<prefix>link:uid:<uid>`: the e-mail.
///
/// Every operation that reads before it writes is one Lua script, which the server runs atomically: of
/// many processes linking one new subject to different uids at the same moment, exactly one wins and
/// the others see the conflict. Several scripts also touch keys they only learn inside the script, so
/// the store needs a single primary (as the token store does), not a Valkey Cluster.
public struct ValkeyIdentityLinkStore: IdentityLinkStore {
    private let client: ValkeyClient
    private let keyPrefix: String

    public init(client: ValkeyClient, keyPrefix: String = "sidecar:") {
        self.client = client
        self.keyPrefix = keyPrefix
    }

    public func link(_ subject: ExternalSubject, uid: String, email: String?) async throws -> LinkOutcome {
        try IdentityLinkInput.check(subject: subject)
        try IdentityLinkInput.check(uid: uid)
        try IdentityLinkInput.check(email: email)
        let digest = subject.digest
        let reply = try await backend {
            try await client.evaluate(
                Self.linkScript, keys: [subjectKey(digest), subjectsKey(uid)],
                arguments: [uid, digest, subject.issuer, subject.subject, email ?? ""])
        }
        return try Self.outcome(of: reply, script: "link")
    }

    public func relink(uid: String, to subject: ExternalSubject, email: String?) async throws -> LinkOutcome {
        try IdentityLinkInput.check(subject: subject)
        try IdentityLinkInput.check(uid: uid)
        try IdentityLinkInput.check(email: email)
        let digest = subject.digest
        let reply = try await backend {
            try await client.evaluate(
                Self.relinkScript, keys: [subjectKey(digest), subjectsKey(uid)],
                arguments: [uid, digest, subject.issuer, subject.subject, email ?? "", subjectKeyPrefix])
        }
        return try Self.outcome(of: reply, script: "relink")
    }

    public func uid(for subject: ExternalSubject) async throws -> String? {
        try IdentityLinkInput.check(subject: subject)
        let reply = try await backend { try await client.command(["HGET", subjectKey(subject.digest), "uid"]) }
        if reply.isNull { return nil }
        guard let uid = reply.string else {
            throw IdentityLinkError.backend(.protocol(reason: "unexpected reply to HGET of a subject link"))
        }
        return uid
    }

    public func links(ofUID uid: String) async throws -> [SubjectLink] {
        try IdentityLinkInput.check(uid: uid)
        let reply = try await backend {
            try await client.evaluate(Self.linksScript, keys: [subjectsKey(uid)], arguments: [uid, subjectKeyPrefix])
        }
        guard let rows = reply.array else {
            throw IdentityLinkError.backend(.protocol(reason: "unexpected reply to the links script"))
        }
        var found: [(digest: String, link: SubjectLink)] = []
        for row in rows {
            guard let fields = row.array, fields.count == 4, let digest = fields[0].string, let issuer = fields[1].string,
                let subject = fields[2].string
            else {
                throw IdentityLinkError.backend(.protocol(reason: "a stored subject link is not {uid, iss, sub[, email]}"))
            }
            let link = SubjectLink(subject: ExternalSubject(issuer: issuer, subject: subject), uid: uid, email: fields[3].string)
            found.append((digest, link))
        }
        return found.sorted { $0.digest < $1.digest }.map(\.link)
    }

    public func unlink(uid: String) async throws -> Bool {
        try IdentityLinkInput.check(uid: uid)
        let reply = try await backend {
            try await client.evaluate(
                Self.unlinkScript, keys: [subjectsKey(uid), legacyUIDKey(uid)],
                arguments: [uid, subjectKeyPrefix, legacyEmailKeyPrefix])
        }
        guard let removed = reply.integer else {
            throw IdentityLinkError.backend(.protocol(reason: "unexpected reply to the unlink script"))
        }
        return removed == 1
    }

    public func adoptLegacyLink(email: String, for subject: ExternalSubject) async throws -> String? {
        try IdentityLinkInput.check(subject: subject)
        try IdentityLinkInput.check(email: email)
        let digest = subject.digest
        let reply = try await backend {
            try await client.evaluate(
                Self.adoptScript, keys: [legacyEmailKeyPrefix + email, subjectKey(digest)],
                arguments: [digest, subject.issuer, subject.subject, email, subjectsKeyPrefix, legacyUIDKeyPrefix])
        }
        if reply.isNull { return nil }
        guard let uid = reply.string else {
            throw IdentityLinkError.backend(.protocol(reason: "unexpected reply to the adopt script"))
        }
        return uid
    }

    private var subjectKeyPrefix: String { keyPrefix + "link:subject:" }
    private var subjectsKeyPrefix: String { keyPrefix + "link:subjects:" }
    private var legacyEmailKeyPrefix: String { keyPrefix + "link:email:" }
    private var legacyUIDKeyPrefix: String { keyPrefix + "link:uid:" }

    private func subjectKey(_ digest: String) -> String { subjectKeyPrefix + digest }

    private func subjectsKey(_ uid: String) -> String { subjectsKeyPrefix + uid }

    private func legacyUIDKey(_ uid: String) -> String { legacyUIDKeyPrefix + uid }

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
        default:
            break
        }
        throw .backend(.protocol(reason: "unexpected reply to the \(script) script"))
    }

    /// KEYS: subject key, uid's subjects key. ARGV: uid, digest, iss, sub, e-mail (`''`: none).
    /// Returns `{'created'}`, `{'linked'}` or `{'conflict', owner uid}`.
    private static let linkScript = ValkeyScript(
        """
        local owner = redis.call('HGET', KEYS[1], 'uid')
        if owner then
          if owner == ARGV[1] then
            return {'linked'}
          end
          return {'conflict', owner}
        end
        redis.call('HSET', KEYS[1], 'uid', ARGV[1], 'iss', ARGV[3], 'sub', ARGV[4])
        if ARGV[5] ~= '' then
          redis.call('HSET', KEYS[1], 'email', ARGV[5])
        end
        redis.call('SADD', KEYS[2], ARGV[2])
        return {'created'}
        """
    )

    /// KEYS: subject key, uid's subjects key. ARGV: uid, digest, iss, sub, e-mail (`''`: none), subject
    /// key prefix. Returns `{'created'}`, `{'linked'}` or `{'conflict', owner uid}`. The uid's other
    /// subject keys are deleted only while they still name this uid, so a relink can never free a
    /// subject that another user holds.
    private static let relinkScript = ValkeyScript(
        """
        local owner = redis.call('HGET', KEYS[1], 'uid')
        if owner and owner ~= ARGV[1] then
          return {'conflict', owner}
        end
        local current = redis.call('SMEMBERS', KEYS[2])
        if owner and #current == 1 and current[1] == ARGV[2] then
          return {'linked'}
        end
        for _, digest in ipairs(current) do
          if digest ~= ARGV[2] then
            local key = ARGV[6] .. digest
            if redis.call('HGET', key, 'uid') == ARGV[1] then
              redis.call('DEL', key)
            end
          end
        end
        redis.call('DEL', KEYS[1], KEYS[2])
        redis.call('HSET', KEYS[1], 'uid', ARGV[1], 'iss', ARGV[3], 'sub', ARGV[4])
        if ARGV[5] ~= '' then
          redis.call('HSET', KEYS[1], 'email', ARGV[5])
        end
        redis.call('SADD', KEYS[2], ARGV[2])
        return {'created'}
        """
    )

    /// KEYS: uid's subjects key. ARGV: uid, subject key prefix.
    /// Returns `{{digest, iss, sub, e-mail or nil}, ...}` for the subjects that still name the uid.
    private static let linksScript = ValkeyScript(
        """
        local result = {}
        for _, digest in ipairs(redis.call('SMEMBERS', KEYS[1])) do
          local fields = redis.call('HMGET', ARGV[2] .. digest, 'uid', 'iss', 'sub', 'email')
          if fields[1] == ARGV[1] then
            table.insert(result, {digest, fields[2], fields[3], fields[4]})
          end
        end
        return result
        """
    )

    /// KEYS: uid's subjects key, legacy uid key. ARGV: uid, subject key prefix, legacy e-mail key prefix.
    /// Returns 1 when the uid had a link of either kind, 0 otherwise. Keys that name another uid stay.
    private static let unlinkScript = ValkeyScript(
        """
        local removed = 0
        for _, digest in ipairs(redis.call('SMEMBERS', KEYS[1])) do
          removed = 1
          local key = ARGV[2] .. digest
          if redis.call('HGET', key, 'uid') == ARGV[1] then
            redis.call('DEL', key)
          end
        end
        redis.call('DEL', KEYS[1])
        local email = redis.call('GET', KEYS[2])
        if email then
          removed = 1
          redis.call('DEL', KEYS[2])
          local emailKey = ARGV[3] .. email
          if redis.call('GET', emailKey) == ARGV[1] then
            redis.call('DEL', emailKey)
          end
        end
        return removed
        """
    )

    /// KEYS: legacy e-mail key, subject key. ARGV: digest, iss, sub, e-mail, subjects key prefix, legacy
    /// uid key prefix. Returns the uid the subject is linked to afterwards, or nil when nothing was
    /// adopted (no legacy link; or the legacy uid has a subject already, which leaves the legacy link).
    private static let adoptScript = ValkeyScript(
        """
        local uid = redis.call('GET', KEYS[1])
        if not uid then
          return false
        end
        local owner = redis.call('HGET', KEYS[2], 'uid')
        if owner then
          return owner
        end
        local subjectsKey = ARGV[5] .. uid
        if redis.call('SCARD', subjectsKey) > 0 then
          return false
        end
        redis.call('HSET', KEYS[2], 'uid', uid, 'iss', ARGV[2], 'sub', ARGV[3], 'email', ARGV[4])
        redis.call('SADD', subjectsKey, ARGV[1])
        redis.call('DEL', KEYS[1])
        local legacyUIDKey = ARGV[6] .. uid
        if redis.call('GET', legacyUIDKey) == ARGV[4] then
          redis.call('DEL', legacyUIDKey)
        end
        return uid
        """
    )
}
