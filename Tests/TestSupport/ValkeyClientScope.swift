import Valkey

/// Runs `body` with a client and shuts the client down afterwards, also when `body` throws.
public func withValkeyClient(_ configuration: ValkeyConfiguration, _ body: (ValkeyClient) async throws -> Void) async throws {
    let client = ValkeyClient(configuration: configuration)
    do {
        try await body(client)
        await client.shutdown()
    } catch {
        await client.shutdown()
        throw error
    }
}
