import Valkey

/// Runs a Valkey operation for a store and surfaces every Valkey failure as
/// ``TokenStoreError/backend(_:)``, so callers of every store have one error type to map (to 503).
func storeOperation<T>(_ operation: () async throws -> T) async throws -> T {
    do {
        return try await operation()
    } catch let error as ValkeyError {
        throw TokenStoreError.backend(error)
    }
}
