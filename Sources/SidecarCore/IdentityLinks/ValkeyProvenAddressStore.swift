import Valkey

/// The production ``ProvenAddressStore``: proofs live in Valkey, shared by the Gateway and every
/// AuthPlugin process.
///
/// Keys, under a configurable prefix (default `sidecar:`), both without expiry because a proof lasts
/// as long as the account:
/// * `<prefix>proof:email:<address>`: a hash `{uid, proof}` (`proof` is ``AddressProof``'s raw value);
/// * `<prefix>proof:uid:<uid>`: the set of addresses the uid proved.
///
/// ``prove(email:uid:by:)`` and ``forget(uid:)`` read before they write and are each one Lua script,
/// which the server runs atomically: of many processes proving one address for different uids at the
/// same moment, exactly one wins. The forget script touches address keys it only learns inside the
/// script, so the store needs a single primary (as the token store does), not a Valkey Cluster.
public struct ValkeyProvenAddressStore: ProvenAddressStore {
    private let client: ValkeyClient
    private let keyPrefix: String

    public init(client: ValkeyClient, keyPrefix: String = "sidecar:") {
        self.client = client
        self.keyPrefix = keyPrefix
    }

    public func prove(email: String, uid: String, by proof: AddressProof) async throws -> ProofOutcome {
        try IdentityLinkInput.check(uid: uid)
        try IdentityLinkInput.check(email: email)
        let reply = try await backend {
            try await client.evaluate(Self.proveScript, keys: [emailKey(email), uidKey(uid)], arguments: [uid, proof.rawValue, email])
        }
        let parts = reply.array ?? []
        switch (parts.first?.string, parts.count) {
        case ("created", 1): return .created
        case ("proven", 1): return .alreadyProven
        case ("conflict", 2):
            if let owner = parts[1].string { return .conflict(existingUID: owner) }
        default: break
        }
        throw IdentityLinkError.backend(.protocol(reason: "unexpected reply to the prove script"))
    }

    public func owner(ofEmail email: String) async throws -> ProvenAddress? {
        try IdentityLinkInput.check(email: email)
        let reply = try await backend { try await client.command(["HMGET", emailKey(email), "uid", "proof"]) }
        guard let fields = reply.array, fields.count == 2 else {
            throw IdentityLinkError.backend(.protocol(reason: "unexpected reply to HMGET of a proof"))
        }
        if fields[0].isNull { return nil }
        guard let uid = fields[0].string, let proof = fields[1].string.flatMap(AddressProof.init(rawValue:)) else {
            throw IdentityLinkError.backend(.protocol(reason: "a stored proof is not {uid, proof}"))
        }
        return ProvenAddress(uid: uid, proof: proof)
    }

    public func addresses(ofUID uid: String) async throws -> [String] {
        try IdentityLinkInput.check(uid: uid)
        let members = try await backend { try await client.smembers(uidKey(uid)) }
        return members.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    public func forget(uid: String) async throws {
        try IdentityLinkInput.check(uid: uid)
        _ = try await backend {
            try await client.evaluate(Self.forgetScript, keys: [uidKey(uid)], arguments: [uid, emailKeyPrefix])
        }
    }

    private var emailKeyPrefix: String { keyPrefix + "proof:email:" }

    private func emailKey(_ email: String) -> String { emailKeyPrefix + email }

    private func uidKey(_ uid: String) -> String { keyPrefix + "proof:uid:" + uid }

    /// Surfaces every Valkey failure as ``IdentityLinkError/backend(_:)`` so callers have one type to map.
    private func backend<T>(_ operation: () async throws -> T) async throws -> T {
        do {
            return try await operation()
        } catch let error as ValkeyError {
            throw IdentityLinkError.backend(error)
        }
    }

    /// KEYS: address key, uid key. ARGV: uid, proof, address.
    /// Returns `{'created'}`, `{'proven'}` or `{'conflict', owner uid}`.
    private static let proveScript = ValkeyScript(
        """
        local owner = redis.call('HGET', KEYS[1], 'uid')
        if owner then
          if owner == ARGV[1] then
            return {'proven'}
          end
          return {'conflict', owner}
        end
        redis.call('HSET', KEYS[1], 'uid', ARGV[1], 'proof', ARGV[2])
        redis.call('SADD', KEYS[2], ARGV[3])
        return {'created'}
        """
    )

    /// KEYS: uid key. ARGV: uid, address key prefix. Returns how many proofs were dropped. An address
    /// key is deleted only while it names this uid, so forgetting can never drop another user's proof.
    private static let forgetScript = ValkeyScript(
        """
        local dropped = 0
        for _, address in ipairs(redis.call('SMEMBERS', KEYS[1])) do
          local key = ARGV[2] .. address
          if redis.call('HGET', key, 'uid') == ARGV[1] then
            redis.call('DEL', key)
            dropped = dropped + 1
          end
        end
        redis.call('DEL', KEYS[1])
        return dropped
        """
    )
}
