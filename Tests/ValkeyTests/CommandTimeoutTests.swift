import TestSupport
import Testing
import Valkey

@Suite("Command timeout")
struct CommandTimeoutTests {
    @Test("a command to a paused server fails with timeout after about the command timeout")
    func pausedServer() async throws {
        try await withRedisServer { server in
            let config = try ValkeyConfiguration(url: server.url, poolSize: 1, commandTimeout: .milliseconds(500))
            let admin = try ValkeyConfiguration(url: server.url, poolSize: 1)
            try await withValkeyClient(config) { client in
                try await withValkeyClient(admin) { adminClient in
                    try await client.ping()  // connected and authenticated before the pause
                    _ = try await adminClient.command(["CLIENT", "PAUSE", "1500", "ALL"])
                    let elapsed = await ContinuousClock().measure {
                        await #expect(throws: ValkeyError.timeout) {
                            try await client.command(["GET", "anything"])
                        }
                    }
                    #expect(elapsed >= .milliseconds(450))
                    #expect(elapsed < .milliseconds(1_500))
                    // The pause blocks every command, CLIENT UNPAUSE included, so wait for it to end.
                    try await Task.sleep(for: .milliseconds(1_200))
                    // The timed-out connection was discarded; the next command works on a new one.
                    try await client.ping()
                }
            }
        }
    }
}
