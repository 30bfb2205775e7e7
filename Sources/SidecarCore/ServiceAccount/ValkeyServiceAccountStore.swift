import Foundation
import Valkey

/// Service-account credentials in Valkey under `<prefix>service-account`, written once with `SET NX`.
public struct ValkeyServiceAccountStore: ServiceAccountStore {
    private let client: ValkeyClient
    private let key: String

    public init(client: ValkeyClient, keyPrefix: String = "sidecar:") {
        self.client = client
        self.key = keyPrefix + "service-account"
    }

    public func load() async throws -> ServiceAccountCredentials? {
        guard let bytes = try await storeOperation({ try await client.get(key) }) else { return nil }
        return try JSONDecoder().decode(ServiceAccountCredentials.self, from: Data(bytes))
    }

    public func storeIfAbsent(_ credentials: ServiceAccountCredentials) async throws -> ServiceAccountCredentials {
        let json = String(decoding: try JSONEncoder().encode(credentials), as: UTF8.self)
        _ = try await storeOperation { try await client.set(key, to: json, onlyIfNotExists: true) }
        return try await load() ?? credentials
    }

}
