import Foundation
import GatewayKit
import Testing
import TinodeDouble

@Suite("Tinode session pool", .timeLimit(.minutes(2)))
struct SessionPoolTests {
    @Test("one session per user, reused for every request")
    func onePerUser() async throws {
        try await SessionHarness.run { harness in
            let (session, identity) = try await harness.register("olga")
            let again = try await harness.pool.session(userID: identity.userID, token: identity.token)
            #expect(again === session)
            _ = try await again.publish(content: jsonText("x"))
            #expect(harness.double.openStreamCount(user: identity.userID) == 1)
        }
    }

    @Test("idle sessions are closed; sessions with live subscribers are kept")
    func idleClose() async throws {
        var poolSettings = TinodeSessionPoolSettings()
        poolSettings.idleTimeout = .milliseconds(200)
        poolSettings.sweepInterval = .seconds(3600)  // swept by hand below
        try await SessionHarness.run(poolSettings: poolSettings) { harness in
            let (idle, idleUser) = try await harness.register("pete")
            let (listened, listenedUser) = try await harness.register("quinn")
            let feed = try await listened.subscribeLive()
            try await Task.sleep(for: .milliseconds(300))
            // A busy machine may deliver quinn's join notice to pete late, which counts as activity:
            // sweep until pete has been idle long enough, for at most 5 s.
            var closed = await harness.pool.sweep()
            for _ in 0..<50 where closed == 0 {
                try await Task.sleep(for: .milliseconds(100))
                closed += await harness.pool.sweep()
            }
            #expect(closed == 1)
            #expect(await idle.isClosed)
            #expect(await !listened.isClosed)
            #expect(await harness.pool.existingSession(userID: idleUser.userID) == nil)
            #expect(await harness.pool.existingSession(userID: listenedUser.userID) != nil)
            #expect(await eventually { harness.double.openStreamCount(user: idleUser.userID) == 0 })
            _ = feed
        }
    }

    @Test("beyond the maximum the least recently used session is closed")
    func leastRecentlyUsed() async throws {
        var poolSettings = TinodeSessionPoolSettings()
        poolSettings.maximumSessions = 2
        try await SessionHarness.run(poolSettings: poolSettings) { harness in
            let (first, firstUser) = try await harness.register("rita")
            let (_, secondUser) = try await harness.register("sam")
            _ = try await harness.pool.session(userID: firstUser.userID, token: firstUser.token)  // rita used again
            let (_, thirdUser) = try await harness.register("tom")
            #expect(await harness.pool.count == 2)
            #expect(await harness.pool.existingSession(userID: secondUser.userID) == nil)
            #expect(await harness.pool.existingSession(userID: firstUser.userID) === first)
            #expect(await harness.pool.existingSession(userID: thirdUser.userID) != nil)
        }
    }

    @Test("logout closes the session at once and ends its live subscribers")
    func logoutCloses() async throws {
        try await SessionHarness.run { harness in
            let (session, identity) = try await harness.register("uma")
            let feed = try await session.subscribeLive()
            await harness.pool.close(userID: identity.userID)
            for await _ in feed.events {}
            #expect(feed.endReason == .sessionClosed)
            await #expect(throws: TinodeSessionError.closed) { _ = try await session.publish(content: jsonText("x")) }
            #expect(await eventually { harness.double.openStreamCount(user: identity.userID) == 0 })
        }
    }

    @Test("draining on shutdown closes every session and refuses new ones")
    func drain() async throws {
        try await SessionHarness.run { harness in
            let (first, _) = try await harness.register("vera")
            let (second, _) = try await harness.register("walt")
            await harness.pool.drain()
            #expect(await first.isClosed)
            #expect(await second.isClosed)
            await #expect(throws: TinodeSessionError.closed) { _ = try await harness.register("xena") }
            #expect(await eventually { harness.double.openStreamCount == 0 })
        }
    }
}
