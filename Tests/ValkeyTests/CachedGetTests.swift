import TestSupport
import Testing

@testable import Valkey

@Suite("Client-side caching (cachedGet)")
struct CachedGetTests {
    /// Reads `key` with `cachedGet` until `condition` holds, for at most 3 s (the report is asynchronous).
    /// A failed read counts as "not yet": right after a server restart, a connection whose end the
    /// client has not noticed yet may fail one command.
    func eventually(
        _ client: ValkeyClient, _ key: String, _ condition: ([UInt8]?) -> Bool
    ) async throws -> Bool {
        for _ in 0..<300 {
            do {
                if condition(try await client.cachedGet(key)) { return true }
            } catch {
                // Not yet: try again.
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        return false
    }

    /// Waits until the invalidation subscription is up and `key` is served from memory. (The server
    /// counts the subscriber before the client has seen its confirmation, so counting subscribers
    /// is not enough on a busy machine.)
    func warmUp(_ client: ValkeyClient, admin: ValkeyClient, key: String) async throws {
        try await admin.set(key, to: "warm")
        for _ in 0..<500 {
            _ = try await client.cachedGet(key)
            if client.isServedFromMemory(key) { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        let subscribers = try await admin.command(["PUBSUB", "NUMSUB", "__redis__:invalidate"])
        #expect(subscribers.array?.last?.integer == 1)
        try #require(client.isServedFromMemory(key), "the client never started serving \(key) from memory")
    }

    @Test("a cached value is served from memory (even while the server is paused) until the key changes")
    func servedFromMemoryUntilChanged() async throws {
        try await withRedisServer { server in
            let config = try ValkeyConfiguration(url: server.url, poolSize: 2, commandTimeout: .milliseconds(1_000))
            try await withValkeyClient(config) { client in
                try await withValkeyClient(try ValkeyConfiguration(url: server.url)) { admin in
                    try await warmUp(client, admin: admin, key: "token:1")
                    #expect(try await client.cachedGet("token:1") == Array("warm".utf8))

                    // While the server holds every command, a plain GET times out; the cached value does not need it.
                    _ = try await admin.command(["CLIENT", "PAUSE", "2000", "ALL"])
                    #expect(try await client.cachedGet("token:1") == Array("warm".utf8))
                    await #expect(throws: ValkeyError.timeout) { try await client.get("token:1") }
                    try await Task.sleep(for: .milliseconds(2_100))

                    // A write by someone else is reported and the next read sees it.
                    try await admin.set("token:1", to: "changed")
                    #expect(try await eventually(client, "token:1") { $0 == Array("changed".utf8) })
                    // So is a delete (logout, revocation): the value is gone at once, not after a TTL.
                    _ = try await admin.del("token:1")
                    #expect(try await eventually(client, "token:1") { $0 == nil })
                    // And expiry.
                    try await admin.set("token:2", to: "short", expiration: .milliseconds(300))
                    #expect(try await client.cachedGet("token:2") == Array("short".utf8))
                    #expect(try await eventually(client, "token:2") { $0 == nil })
                }
            }
        }
    }

    @Test("a subscription that stops answering is closed by its ping: cached values are no longer served from memory")
    func silentSubscription() async throws {
        try await withRedisServer { server in
            let config = try ValkeyConfiguration(url: server.url, poolSize: 2, commandTimeout: .milliseconds(1_000))
            try await withValkeyClient(config) { client in
                try await withValkeyClient(try ValkeyConfiguration(url: server.url)) { admin in
                    try await warmUp(client, admin: admin, key: "token:9")
                    #expect(try await client.cachedGet("token:9") == Array("warm".utf8))
                    // The server stops answering (as behind a half-open connection): its reports could be lost.
                    let paused = ContinuousClock.now
                    _ = try await admin.command(["CLIENT", "PAUSE", "8000", "ALL"])
                    var servedUntil = paused
                    while ContinuousClock.now - paused < .seconds(7) {
                        guard (try? await client.cachedGet("token:9")) != nil else { break }
                        servedUntil = .now
                        try await Task.sleep(for: .milliseconds(100))
                    }
                    // Within one ping interval (3 s) and one command timeout (1 s), plus room for a busy machine.
                    #expect(servedUntil - paused < .milliseconds(5_500), "served from memory for \(servedUntil - paused)")
                    // Let the pause run out before the clients close.
                    try await Task.sleep(until: paused + .milliseconds(8_200))
                }
            }
        }
    }

    @Test("when the subscription is killed, nothing stale is served: a change made meanwhile is seen")
    func subscriptionLost() async throws {
        try await withRedisServer { server in
            let config = try ValkeyConfiguration(url: server.url, poolSize: 2)
            try await withValkeyClient(config) { client in
                try await withValkeyClient(try ValkeyConfiguration(url: server.url)) { admin in
                    try await warmUp(client, admin: admin, key: "token:k")
                    #expect(try await client.cachedGet("token:k") == Array("warm".utf8))
                    _ = try await admin.command(["CLIENT", "KILL", "TYPE", "pubsub"])
                    // Written while the subscription is down: no report can reach the client.
                    try await admin.set("token:k", to: "new")
                    #expect(try await eventually(client, "token:k") { $0 == Array("new".utf8) })
                }
            }
        }
    }

    @Test("after a server restart, values cached before it are not served")
    func serverRestart() async throws {
        try await withRedisServer { server in
            let config = try ValkeyConfiguration(url: server.url, poolSize: 2, connectTimeout: .seconds(1))
            try await withValkeyClient(config) { client in
                try await withValkeyClient(try ValkeyConfiguration(url: server.url)) { admin in
                    try await warmUp(client, admin: admin, key: "token:r")
                    #expect(try await client.cachedGet("token:r") == Array("warm".utf8))
                }
                server.stop()
                try await server.start()
                // The restarted server kept nothing (no persistence here).
                #expect(try await eventually(client, "token:r") { $0 == nil })
            }
        }
    }

    @Test("with caching off (0 entries) every read goes to the server")
    func off() async throws {
        try await withRedisServer { server in
            var config = try ValkeyConfiguration(url: server.url)
            config.cachedEntries = 0
            try await withValkeyClient(config) { client in
                try await client.set("k", to: "v")
                for _ in 0..<3 { #expect(try await client.cachedGet("k") == Array("v".utf8)) }
                let subscribers = try await client.command(["PUBSUB", "NUMSUB", "__redis__:invalidate"])
                #expect(subscribers.array?.last?.integer == 0)
                _ = try await client.del("k")
                #expect(try await client.cachedGet("k") == nil)
            }
        }
    }

    @Test("forgetCached drops a value at once, before any report, even while the server is paused")
    func forgetCached() async throws {
        try await withRedisServer { server in
            let config = try ValkeyConfiguration(url: server.url, poolSize: 2, commandTimeout: .milliseconds(1_000))
            try await withValkeyClient(config) { client in
                try await withValkeyClient(try ValkeyConfiguration(url: server.url)) { admin in
                    try await warmUp(client, admin: admin, key: "token:f")
                    _ = try await admin.command(["CLIENT", "PAUSE", "2000", "ALL"])
                    #expect(try await client.cachedGet("token:f") == Array("warm".utf8))
                    client.forgetCached("token:f")
                    // Not from memory any more: the read has to reach the paused server.
                    await #expect(throws: ValkeyError.timeout) { try await client.cachedGet("token:f") }
                }
            }
        }
    }
}
