import Foundation
import GatewayKit
import Testing
import TinodeDouble

/// What happens when Tinode misbehaves: eviction, half-dead and silent streams, restarts. The live
/// feed must resume from the last delivered seq with no gap and no duplicate.
@Suite("Tinode session recovery", .timeLimit(.minutes(2)))
struct SessionRecoveryTests {
    @Test("live feed delivers other users' messages in order")
    func liveFeed() async throws {
        try await SessionHarness.run { harness in
            let (session, _) = try await harness.register("judy")
            let feed = try await session.subscribeLive()
            for index in 1...5 {
                try harness.double.publish(asUser: harness.roomOwner, topic: harness.room, content: jsonText("live \(index)"))
            }
            let messages = await collectMessages(feed, count: 5)
            #expect(messages.map(\.seq) == [1, 2, 3, 4, 5])
            #expect(messages.map(\.content) == (1...5).map { jsonText("live \($0)") })
            #expect(messages.allSatisfy { $0.from == harness.roomOwner })
        }
    }

    @Test("after a 205 eviction the session logs in again by token and the feed resumes without gaps")
    func eviction() async throws {
        try await SessionHarness.run { harness in
            let (session, identity) = try await harness.register("kim")
            let feed = try await session.subscribeLive()
            try harness.double.publish(asUser: harness.roomOwner, topic: harness.room, content: jsonText("before"))
            #expect(await collectMessages(feed, count: 1).map(\.seq) == [1])

            harness.double.evict(user: identity.userID)
            // Published while the session is down: must come through the catch-up, once.
            for index in 2...4 {
                try harness.double.publish(asUser: harness.roomOwner, topic: harness.room, content: jsonText("during \(index)"))
            }
            // 15 s: beside the other suites on two cores the reconnection once took longer than 5 s.
            #expect(
                await eventually(timeout: .seconds(15)) {
                    harness.double.openStreamCount(user: identity.userID) == 1 && harness.double.receivedCount(kind: "login") >= 1
                })
            try harness.double.publish(asUser: harness.roomOwner, topic: harness.room, content: jsonText("after"))
            let messages = await collectMessages(feed, count: 4)
            #expect(messages.map(\.seq) == [2, 3, 4, 5])
            let receipt = try await session.publish(content: jsonText("still works"))
            #expect(receipt.seq == 6)
        }
    }

    @Test("a half-dead stream is found by the heartbeat and replaced; nothing is lost")
    func halfDead() async throws {
        try await SessionHarness.run { harness in
            let (session, identity) = try await harness.register("liam")
            let feed = try await session.subscribeLive()
            harness.double.goHalfDead(user: identity.userID)
            let start = ContinuousClock.now
            for index in 1...3 {
                try harness.double.publish(asUser: harness.roomOwner, topic: harness.room, content: jsonText("while silent \(index)"))
            }
            let messages = await collectMessages(feed, count: 3, timeout: .seconds(8))
            #expect(messages.map(\.seq) == [1, 2, 3])
            // Heartbeat interval (1 s) plus a reconnect: within a few seconds even on a busy machine.
            #expect(ContinuousClock.now - start < .seconds(7))
            #expect(harness.double.receivedCount(kind: "login") >= 1)
            _ = try await session.publish(content: jsonText("ok"))
        }
    }

    @Test(
        "a heartbeat that comes due while a timed-out request's probe waits does not spin on the session",
        .timeLimit(.minutes(1)))
    func heartbeatDuringProbe() async throws {
        try await SessionHarness.run { harness in
            let (session, identity) = try await harness.register("mia")
            // Shorter than the heartbeat interval (1 s): the timeout's probe (0.7 s) is still waiting on
            // the silent stream when the heartbeat comes due.
            await session.setRequestTimeout(.milliseconds(700))
            harness.double.holdReplies(user: identity.userID)
            await #expect(throws: TinodeSessionError.self) { try await session.publish(content: jsonText("held")) }
            try await Task.sleep(for: .milliseconds(1500))
            // The probe failed meanwhile and the session reconnects, unless it is stuck looping.
            await session.setRequestTimeout(.seconds(10))
            let start = ContinuousClock.now
            harness.double.releaseReplies(user: identity.userID)
            _ = try await session.publish(content: jsonText("after the probe"))
            #expect(ContinuousClock.now - start < .seconds(20))
        }
    }

    @Test("Tinode restarting: requests fail fast as unavailable, then work again; the feed catches up")
    func restart() async throws {
        try await SessionHarness.run { harness in
            let (session, _) = try await harness.register("mia")
            let feed = try await session.subscribeLive()
            _ = try await session.publish(content: jsonText("one"))
            #expect(await collectMessages(feed, count: 1).map(\.seq) == [1])

            await harness.double.stop()
            let start = ContinuousClock.now
            var sawUnavailable = false
            do {
                _ = try await session.publish(content: jsonText("during outage"))
            } catch let error as TinodeSessionError {
                if case .unavailable = error { sawUnavailable = true }
            }
            #expect(sawUnavailable)
            #expect(ContinuousClock.now - start < .seconds(6))  // fast: far below the 10 s request timeout
            try harness.double.publish(asUser: harness.roomOwner, topic: harness.room, content: jsonText("stored while we were away"))

            try await harness.double.restart()
            let messages = await collectMessages(feed, count: 1, timeout: .seconds(8))
            #expect(messages.map(\.seq) == [2])
            #expect(
                await eventually {
                    (try? await session.publish(content: jsonText("back"))) != nil
                })
            #expect(harness.double.messages(inTopic: harness.room).map(\.seq) == [1, 2, 3])
        }
    }

    @Test("catching up after a restart reads pages that Tinode's send queue takes: 120 missed messages, a queue of 80")
    func catchUpPagesFitTheSendQueue() async throws {
        var options = TinodeDouble.Options()
        // A page lands in the session's send queue at once: a page of 100 overflows this queue and
        // ends the session (as Tinode does); pages of 50 fit.
        options.sendQueueLimit = 80
        try await SessionHarness.run(options: options) { harness in
            let (session, _) = try await harness.register("paula")
            let feed = try await session.subscribeLive()
            _ = try await session.publish(content: jsonText("before"))
            #expect(await collectMessages(feed, count: 1).map(\.seq) == [1])
            await harness.double.stop()
            for index in 1...120 {
                try harness.double.publish(asUser: harness.roomOwner, topic: harness.room, content: jsonText("missed \(index)"))
            }
            let queriesBefore = harness.double.dataQueryLimits.count
            try await harness.double.restart()
            let messages = await collectMessages(feed, count: 120, timeout: .seconds(30))
            #expect(messages.map(\.seq) == Array(2...121))
            let limits = harness.double.dataQueryLimits.dropFirst(queriesBefore)
            #expect(!limits.isEmpty && limits.allSatisfy { $0 <= 50 }, "\(Array(limits))")
        }
    }

    @Test("a session whose token Tinode refuses closes for good and says so")
    func refusedToken() async throws {
        try await SessionHarness.run { harness in
            let (_, identity) = try await harness.register("nina")
            var tampered = identity.token
            tampered[tampered.count - 1] ^= 0xFF
            let session = try await harness.pool.session(userID: "usrSomeoneElse", token: tampered)
            await #expect(throws: TinodeSessionError.authenticationFailed(code: 401, text: "authentication failed")) {
                _ = try await session.publish(content: jsonText("x"))
            }
            #expect(await session.isClosed)
        }
    }
}
