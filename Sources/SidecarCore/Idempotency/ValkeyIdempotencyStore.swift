import Foundation
import Valkey

/// Idempotency keys in Valkey: `<prefix>idem:<scope>:<key>` holds `pending` while an attempt runs
/// (claimed with `SET NX`, expiring after the claim TTL in case the Gateway dies mid-request) and then
/// the answer, for 24 hours.
public struct ValkeyIdempotencyStore: IdempotencyStore {
    private let client: ValkeyClient
    private let keyPrefix: String
    private static let pending = Array("\u{0}pending".utf8)

    public init(client: ValkeyClient, keyPrefix: String = "sidecar:") {
        self.client = client
        self.keyPrefix = keyPrefix
    }

    public func claim(scope: String, key: String, claimTTL: Duration) async throws -> IdempotencyClaim {
        let id = self.key(scope, key)
        if try await storeOperation({ try await client.set(id, to: Self.pending, expiration: claimTTL, onlyIfNotExists: true) }) {
            return .claimed
        }
        guard let stored = try await storeOperation({ try await client.get(id) }) else {
            // Expired between the two commands: try once more.
            let claimed = try await storeOperation {
                try await client.set(id, to: Self.pending, expiration: claimTTL, onlyIfNotExists: true)
            }
            return claimed ? .claimed : .inProgress
        }
        return stored == Self.pending ? .inProgress : .completed(Data(stored))
    }

    public func complete(scope: String, key: String, answer: Data, ttl: Duration) async throws {
        _ = try await storeOperation { try await client.set(self.key(scope, key), to: Array(answer), expiration: ttl) }
    }

    public func release(scope: String, key: String) async throws {
        _ = try await storeOperation { try await client.del(self.key(scope, key)) }
    }

    private func key(_ scope: String, _ key: String) -> String { keyPrefix + "idem:" + scope + ":" + key }

}
