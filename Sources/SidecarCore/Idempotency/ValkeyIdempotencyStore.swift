import Foundation
import Valkey

/// Idempotency keys in Valkey: `<prefix>idem:<scope>:<key>` holds `pending` while an attempt runs
/// (claimed with `SET NX`, expiring after the claim TTL in case the Gateway dies mid-request) and then
/// the answer, for 24 hours. `<prefix>idem-uncertain:<scope>:<key>` holds the time (Unix milliseconds)
/// of the earliest attempt whose outcome is unknown, until the key is completed.
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
        _ = try await storeOperation { try await client.del(uncertainKey(scope, key)) }
    }

    public func markUncertain(scope: String, key: String, since: Date, ttl: Duration) async throws {
        let milliseconds = String(Int64((since.timeIntervalSince1970 * 1000).rounded(.down)))
        // NX keeps the earliest attempt: the search for its message must reach back that far.
        _ = try await storeOperation {
            try await client.set(uncertainKey(scope, key), to: Array(milliseconds.utf8), expiration: ttl, onlyIfNotExists: true)
        }
    }

    public func uncertainSince(scope: String, key: String) async throws -> Date? {
        guard let stored = try await storeOperation({ try await client.get(uncertainKey(scope, key)) }),
            let milliseconds = Int64(String(decoding: stored, as: UTF8.self))
        else { return nil }
        return Date(timeIntervalSince1970: Double(milliseconds) / 1000)
    }

    private func uncertainKey(_ scope: String, _ key: String) -> String { keyPrefix + "idem-uncertain:" + scope + ":" + key }

    public func release(scope: String, key: String) async throws {
        _ = try await storeOperation { try await client.del(self.key(scope, key)) }
    }

    private func key(_ scope: String, _ key: String) -> String { keyPrefix + "idem:" + scope + ":" + key }

}
