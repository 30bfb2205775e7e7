import TestSupport
import Testing

@testable import Valkey

/// What callers that keep values rely on: a value read with `trackedGet` comes with a lease that runs
/// while the value is the server's, even while the server is out of reach, and ends as soon as the
/// key changes or its reports may be lost. (The same scenarios as the cache of raw values that
/// `cachedGet` kept before the values moved to their callers, SidecarCore's `AccessTokenCache`.)
@Suite("Client-side caching (trackedGet and its leases)")
struct TrackedGetTests {
    /// Checks `condition` every 10 ms until it holds, for at most 3 s (reports are asynchronous).
    func eventually(_ condition: () async -> Bool) async throws -> Bool {
        for _ in 0..<300 {
            if await condition() { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return false
    }

    /// Reads `key` with `trackedGet` until it satisfies `condition`, for at most 3 s. A failed read
    /// counts as "not yet": right after a server restart, a connection whose end the client has not
    /// noticed yet may fail one command.
    func eventually(_ client: ValkeyClient, _ key: String, _ condition: ([UInt8]?) -> Bool) async throws -> Bool {
        try await eventually {
            guard let read = try? await client.trackedGet(key) else { return false }
            return condition(read.value)
        }
    }

    /// Waits until the invalidation subscription is up and a read of `key` holds a running lease;
    /// returns that read's lease. (The server counts the subscriber before the client has seen its
    /// confirmation, so counting subscribers is not enough on a busy machine.)
    func warmUp(_ client: ValkeyClient, admin: ValkeyClient, key: String) async throws -> TrackingLease {
        try await admin.set(key, to: "warm")
        var lease: TrackingLease?
        for _ in 0..<500 {
            let read = try await client.trackedGet(key)
            #expect(read.value == Array("warm".utf8))
            lease = read.lease
            if lease?.isCurrent == true, client.isTracking(key) { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        let subscribers = try await admin.command(["PUBSUB", "NUMSUB", "__redis__:invalidate"])
        #expect(subscribers.array?.last?.integer == 1)
        let running = try #require(lease, "the client never gave a lease for \(key)")
        try #require(running.isCurrent && client.isTracking(key), "the client never tracked \(key)")
        return running
    }

    @Test("a lease runs (even while the server is paused) until the key changes, is deleted or expires")
    func leaseRunsUntilChanged() async throws {
        try await withRedisServer { server in
            let config = try ValkeyConfiguration(url: server.url, poolSize: 2, commandTimeout: .milliseconds(1_000))
            try await withValkeyClient(config) { client in
                try await withValkeyClient(try ValkeyConfiguration(url: server.url)) { admin in
                    let warm = try await warmUp(client, admin: admin, key: "token:1")

                    // While the server holds every command, a plain GET times out; the value kept under a
                    // running lease does not need the server.
                    _ = try await admin.command(["CLIENT", "PAUSE", "2000", "ALL"])
                    #expect(warm.isCurrent)
                    await #expect(throws: ValkeyError.timeout) { try await client.get("token:1") }
                    try await Task.sleep(for: .milliseconds(2_100))

                    // (The timed-out connection was closed, which ended every lease: a fresh one.)
                    let current = try await warmUp(client, admin: admin, key: "token:1")
                    // A write by someone else is reported: the lease ends and the next read sees the write.
                    try await admin.set("token:1", to: "changed")
                    #expect(try await eventually { !current.isCurrent })
                    let changed = try await client.trackedGet("token:1")
                    #expect(changed.value == Array("changed".utf8))
                    // So is a delete (logout, revocation): the lease ends at once, not after a TTL.
                    let beforeDelete = try #require(changed.lease)
                    _ = try await admin.del("token:1")
                    #expect(try await eventually { !beforeDelete.isCurrent })
                    #expect(try await client.trackedGet("token:1").value == nil)
                    // And expiry.
                    try await admin.set("token:2", to: "short", expiration: .milliseconds(300))
                    let short = try await client.trackedGet("token:2")
                    #expect(short.value == Array("short".utf8))
                    let shortLease = try #require(short.lease)
                    #expect(try await eventually { !shortLease.isCurrent })
                    #expect(try await client.trackedGet("token:2").value == nil)
                }
            }
        }
    }

    @Test("a subscription that stops answering is closed by its ping: every lease ends")
    func silentSubscription() async throws {
        try await withRedisServer { server in
            let config = try ValkeyConfiguration(url: server.url, poolSize: 2, commandTimeout: .milliseconds(1_000))
            try await withValkeyClient(config) { client in
                try await withValkeyClient(try ValkeyConfiguration(url: server.url)) { admin in
                    let lease = try await warmUp(client, admin: admin, key: "token:9")
                    // The server stops answering (as behind a half-open connection): its reports could be lost.
                    let paused = ContinuousClock.now
                    _ = try await admin.command(["CLIENT", "PAUSE", "8000", "ALL"])
                    var servedUntil = paused
                    while ContinuousClock.now - paused < .seconds(7) {
                        guard lease.isCurrent else { break }
                        servedUntil = .now
                        try await Task.sleep(for: .milliseconds(100))
                    }
                    // Within one ping interval (3 s) and one command timeout (1 s), plus room for a busy machine.
                    #expect(servedUntil - paused < .milliseconds(5_500), "lease ran for \(servedUntil - paused)")
                    #expect(!client.isTracking("token:9"))
                    // Let the pause run out before the clients close.
                    try await Task.sleep(until: paused + .milliseconds(8_200))
                }
            }
        }
    }

    @Test("when the subscription is killed, every lease ends: a change made meanwhile is seen")
    func subscriptionLost() async throws {
        try await withRedisServer { server in
            let config = try ValkeyConfiguration(url: server.url, poolSize: 2)
            try await withValkeyClient(config) { client in
                try await withValkeyClient(try ValkeyConfiguration(url: server.url)) { admin in
                    let lease = try await warmUp(client, admin: admin, key: "token:k")
                    _ = try await admin.command(["CLIENT", "KILL", "TYPE", "pubsub"])
                    // Written while the subscription is down: no report can reach the client.
                    try await admin.set("token:k", to: "new")
                    #expect(try await eventually { !lease.isCurrent })
                    #expect(try await eventually(client, "token:k") { $0 == Array("new".utf8) })
                }
            }
        }
    }

    @Test("after a server restart, leases taken before it have ended")
    func serverRestart() async throws {
        try await withRedisServer { server in
            let config = try ValkeyConfiguration(url: server.url, poolSize: 2, connectTimeout: .seconds(1))
            try await withValkeyClient(config) { client in
                var warm: TrackingLease?
                try await withValkeyClient(try ValkeyConfiguration(url: server.url)) { admin in
                    warm = try await warmUp(client, admin: admin, key: "token:r")
                }
                let lease = try #require(warm)
                server.stop()
                try await server.start()
                #expect(try await eventually { !lease.isCurrent })
                // The restarted server kept nothing (no persistence here).
                #expect(try await eventually(client, "token:r") { $0 == nil })
            }
        }
    }

    @Test("with caching off (0 entries) no read gets a lease and every read goes to the server")
    func off() async throws {
        try await withRedisServer { server in
            var config = try ValkeyConfiguration(url: server.url)
            config.cachedEntries = 0
            try await withValkeyClient(config) { client in
                try await client.set("k", to: "v")
                for _ in 0..<3 {
                    let read = try await client.trackedGet("k")
                    #expect(read.value == Array("v".utf8))
                    #expect(read.lease == nil)
                }
                let subscribers = try await client.command(["PUBSUB", "NUMSUB", "__redis__:invalidate"])
                #expect(subscribers.array?.last?.integer == 0)
                _ = try await client.del("k")
                #expect(try await client.trackedGet("k").value == nil)
            }
        }
    }

    @Test("invalidate ends a lease at once, before any report, even while the server is paused")
    func invalidate() async throws {
        try await withRedisServer { server in
            let config = try ValkeyConfiguration(url: server.url, poolSize: 2, commandTimeout: .milliseconds(1_000))
            try await withValkeyClient(config) { client in
                try await withValkeyClient(try ValkeyConfiguration(url: server.url)) { admin in
                    let lease = try await warmUp(client, admin: admin, key: "token:f")
                    _ = try await admin.command(["CLIENT", "PAUSE", "2000", "ALL"])
                    #expect(lease.isCurrent)
                    client.invalidate("token:f")
                    #expect(!lease.isCurrent)
                    #expect(!client.isTracking("token:f"))
                    // Nothing kept any more: the next read has to reach the paused server.
                    await #expect(throws: ValkeyError.timeout) { try await client.trackedGet("token:f") }
                }
            }
        }
    }

    @Test("tracked keys are bounded: a key pushed out for room has its lease ended, since its report would be missed")
    func bounded() async throws {
        try await withRedisServer { server in
            var config = try ValkeyConfiguration(url: server.url, poolSize: 2)
            config.cachedEntries = 2
            try await withValkeyClient(config) { client in
                try await withValkeyClient(try ValkeyConfiguration(url: server.url)) { admin in
                    let first = try await warmUp(client, admin: admin, key: "bound:1")
                    var leases = [first]
                    for key in ["bound:2", "bound:3"] {
                        try await admin.set(key, to: "v")
                        leases.append(try #require(try await client.trackedGet(key).lease))
                    }
                    // Two keys at most: making room for the third ended one of the first two.
                    #expect(leases.filter(\.isCurrent).count == 2)
                    #expect(leases[2].isCurrent)
                    // A newer read of a key ends the lease it replaces (it would no longer be reported).
                    let again = try #require(try await client.trackedGet("bound:3").lease)
                    #expect(again.isCurrent && !leases[2].isCurrent)
                }
            }
        }
    }
}
