import TestSupport
import Testing
import Valkey

@Suite("Recovery after a server restart")
struct ReconnectTests {
    @Test("while the server is down commands fail fast; once it is back they succeed on the same client")
    func restart() async throws {
        try await withRedisServer { server in
            let config = try ValkeyConfiguration(url: server.url, poolSize: 4, connectTimeout: .seconds(1))
            try await withValkeyClient(config) { client in
                // Open several connections so that all of them go stale at once.
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in 0..<16 {
                        group.addTask { try await client.set("k\(index)", to: "v") }
                    }
                    try await group.waitForAll()
                }

                server.stop()
                let elapsed = await ContinuousClock().measure {
                    let error = await #expect(throws: ValkeyError.self) {
                        try await client.getString("k0")
                    }
                    guard case .connectionFailed = error else {
                        Issue.record("expected connectionFailed, got \(String(describing: error))")
                        return
                    }
                }
                #expect(elapsed < .seconds(1))

                try await server.start()
                // A restarted server without persistence starts empty.
                #expect(try await client.getString("k0") == nil)
                for _ in 0..<8 {
                    try await client.ping()
                }
                try await client.set("after", to: "restart")
                #expect(try await client.getString("after") == "restart")
            }
        }
    }

    @Test("a command in flight when the server dies fails with connectionFailed")
    func serverDiesDuringCommand() async throws {
        try await withRedisServer { server in
            let config = try ValkeyConfiguration(url: server.url, poolSize: 1, commandTimeout: .seconds(5))
            try await withValkeyClient(config) { client in
                let blocked = Task { try await client.command(["BLPOP", "never", "4"]) }
                try await Task.sleep(for: .milliseconds(300))
                let elapsed = await ContinuousClock().measure {
                    server.stop()
                    let error = await #expect(throws: ValkeyError.self) {
                        try await blocked.value
                    }
                    guard case .connectionFailed = error else {
                        Issue.record("expected connectionFailed, got \(String(describing: error))")
                        return
                    }
                }
                #expect(elapsed < .seconds(2))
                try await server.start()
                try await client.ping()
            }
        }
    }
}
