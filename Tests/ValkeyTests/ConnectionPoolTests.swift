import Foundation
import TestSupport
import Testing
import Valkey

@Suite("Connection pool")
struct ConnectionPoolTests {
    let prefix = TestEnvironment.uniquePrefix()

    @Test("200 concurrent commands through a pool of 4 all get their own answer")
    func concurrentCommands() async throws {
        // The timeout also bounds the wait for a free connection: generous, so that a busy CI machine
        // does not turn queueing into a failure; what is checked is that each caller gets its own answer.
        try await withValkeyClient(TestEnvironment.configuration(poolSize: 4, commandTimeout: .seconds(30))) { client in
            let results = try await withThrowingTaskGroup(of: (Int, String?).self) { group in
                for index in 0..<200 {
                    group.addTask {
                        let key = prefix + "c\(index)"
                        try await client.set(key, to: "value-\(index)", expiration: .seconds(60))
                        return (index, try await client.getString(key))
                    }
                }
                var results: [Int: String?] = [:]
                for try await (index, value) in group { results[index] = value }
                return results
            }
            #expect(results.count == 200)
            for index in 0..<200 {
                #expect(results[index] == "value-\(index)")
            }
            try await client.del((0..<200).map { prefix + "c\($0)" })
        }
    }

    @Test("the pool never opens more connections than its size")
    func boundedConnections() async throws {
        try await withValkeyClient(TestEnvironment.configuration(poolSize: 4)) { client in
            let ids = try await withThrowingTaskGroup(of: RESPValue.self) { group in
                for _ in 0..<100 {
                    group.addTask { try await client.command(["CLIENT", "ID"]) }
                }
                var ids: Set<RESPValue> = []
                for try await id in group { ids.insert(id) }
                return ids
            }
            #expect((1...4).contains(ids.count))
        }
    }

    @Test("a caller waiting for a busy pool times out after the command timeout")
    func waitTimesOut() async throws {
        try await withValkeyClient(TestEnvironment.configuration(poolSize: 1, commandTimeout: .milliseconds(400))) { client in
            // Five pipelined 0.25 s BLPOPs hold the only connection for about 1.25 s, while each single reply
            // still arrives within the 0.4 s command timeout.
            let blocker = Task {
                try await client.pipeline(Array(repeating: ["BLPOP", prefix + "never", "0.25"], count: 5))
            }
            try await Task.sleep(for: .milliseconds(100))
            let elapsed = await ContinuousClock().measure {
                await #expect(throws: ValkeyError.timeout) {
                    try await client.ping()
                }
            }
            #expect(elapsed >= .milliseconds(350))
            #expect(elapsed < .milliseconds(1_200))
            #expect(try await blocker.value == Array(repeating: .null, count: 5))
            try await client.ping()
        }
    }

    @Test("a caller waiting for a busy pool can be cancelled")
    func waitCancelled() async throws {
        try await withValkeyClient(TestEnvironment.configuration(poolSize: 1, commandTimeout: .seconds(5))) { client in
            let blocker = Task { try await client.command(["BLPOP", prefix + "never", "1"]) }
            try await Task.sleep(for: .milliseconds(100))
            let waiter = Task { try await client.ping() }
            try await Task.sleep(for: .milliseconds(100))
            waiter.cancel()
            await #expect(throws: CancellationError.self) { try await waiter.value }
            #expect(try await blocker.value == .null)
            try await client.ping()
        }
    }

    @Test("cancelling a command that is blocked on the server returns at once")
    func inFlightCancelled() async throws {
        try await withValkeyClient(TestEnvironment.configuration(poolSize: 1, commandTimeout: .seconds(10))) { client in
            let blocked = Task { try await client.command(["BLPOP", prefix + "never", "8"]) }
            try await Task.sleep(for: .milliseconds(200))
            let elapsed = await ContinuousClock().measure {
                blocked.cancel()
                await #expect(throws: CancellationError.self) { try await blocked.value }
            }
            #expect(elapsed < .seconds(1))
            // The aborted connection was discarded; the next command opens a fresh one.
            try await client.ping()
        }
    }
}
