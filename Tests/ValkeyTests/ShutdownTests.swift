import Testing
import Valkey

@Suite("Shutdown")
struct ShutdownTests {
    @Test("after shutdown commands fail with poolClosed")
    func closedAfterShutdown() async throws {
        let client = ValkeyClient(configuration: try TestEnvironment.configuration())
        try await client.ping()
        await client.shutdown()
        await #expect(throws: ValkeyError.poolClosed) {
            try await client.ping()
        }
        // Shutting down twice is harmless.
        await client.shutdown()
    }

    @Test("run() closes the pool when its task ends")
    func runClosesPool() async throws {
        let client = ValkeyClient(configuration: try TestEnvironment.configuration())
        let service = Task { try await client.run() }
        try await client.ping()
        service.cancel()
        try await service.value
        await #expect(throws: ValkeyError.poolClosed) {
            try await client.ping()
        }
    }

    @Test("callers waiting for a connection when the pool closes fail with poolClosed")
    func waitersFailOnClose() async throws {
        let config = try TestEnvironment.configuration(poolSize: 1, commandTimeout: .seconds(5))
        let client = ValkeyClient(configuration: config)
        let blocker = Task { try await client.command(["BLPOP", TestEnvironment.uniquePrefix() + "never", "1"]) }
        try await Task.sleep(for: .milliseconds(100))
        let waiter = Task { try await client.ping() }
        try await Task.sleep(for: .milliseconds(100))
        await client.shutdown()
        await #expect(throws: ValkeyError.poolClosed) {
            try await waiter.value
        }
        #expect(try await blocker.value == .null)
    }
}
