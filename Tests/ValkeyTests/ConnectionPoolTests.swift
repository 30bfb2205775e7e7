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

    @Test("a command stuck behind slow ones times out, and the connection, still answering, is kept")
    func timeoutBehindSlowCommands() async throws {
        try await withValkeyClient(TestEnvironment.configuration(poolSize: 1, commandTimeout: .milliseconds(400))) { client in
            let connectionID = try await client.command(["CLIENT", "ID"])
            // Three pipelined 0.25 s BLPOPs hold the only connection for about 0.75 s: longer than the
            // timeout as a whole, although the server answers every 0.25 s.
            let blocker = Task {
                try await client.pipeline(Array(repeating: ["BLPOP", prefix + "never", "0.25"], count: 3))
            }
            try await Task.sleep(for: .milliseconds(100))
            let elapsed = await ContinuousClock().measure {
                await #expect(throws: ValkeyError.timeout) {
                    try await client.ping()
                }
            }
            #expect(elapsed >= .milliseconds(350))
            #expect(elapsed < .milliseconds(1_200))
            await #expect(throws: ValkeyError.timeout) { try await blocker.value }
            // The late replies are read and dropped; the same connection then serves the next command.
            try await Task.sleep(for: .milliseconds(600))
            #expect(try await client.command(["CLIENT", "ID"]) == connectionID)
        }
    }

    @Test("a command queued behind a blocking one can be cancelled")
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

    @Test("cancelling a command that is blocked on the server returns at once; others use another connection")
    func inFlightCancelled() async throws {
        try await withValkeyClient(TestEnvironment.configuration(poolSize: 2, commandTimeout: .seconds(10))) { client in
            let blocked = Task { try await client.command(["BLPOP", prefix + "never", "8"]) }
            try await Task.sleep(for: .milliseconds(200))
            let elapsed = await ContinuousClock().measure {
                blocked.cancel()
                await #expect(throws: CancellationError.self) { try await blocked.value }
            }
            #expect(elapsed < .seconds(4))  // not the BLPOP's 8 s (a loaded machine once took 1.3 s)
            // The blocked connection still owes the BLPOP's reply; the next command goes to a second one
            // instead of waiting the 8 s behind it.
            let pingTime = try await ContinuousClock().measure { try await client.ping() }
            #expect(pingTime < .seconds(4))
        }
    }
}
