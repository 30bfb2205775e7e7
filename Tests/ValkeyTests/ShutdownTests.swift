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

    @Test("a command sent before shutdown still gets its answer; commands after it fail with poolClosed")
    func inFlightFinishesOnShutdown() async throws {
        let config = try TestEnvironment.configuration(poolSize: 1, commandTimeout: .seconds(5))
        let client = ValkeyClient(configuration: config)
        try await client.ping()  // the connection is open, so the BLPOP below is sent at once
        let blocker = Task { try await client.command(["BLPOP", TestEnvironment.uniquePrefix() + "never", "0.5"]) }
        try await Task.sleep(for: .milliseconds(150))
        let shutdown = Task { await client.shutdown() }
        try await Task.sleep(for: .milliseconds(50))
        await #expect(throws: ValkeyError.poolClosed) {
            try await client.ping()
        }
        #expect(try await blocker.value == .null)
        await shutdown.value
    }
}
