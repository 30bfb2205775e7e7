import Foundation
import GatewayKit
import Synchronization
import Testing
import TinodeDouble

/// Requests on one user's session: registration, login, publish, history, and the correlation of
/// Tinode's replies when they come late, reordered or not at all.
@Suite("Tinode session requests", .timeLimit(.minutes(2)))
struct SessionRequestTests {
    @Test("register, publish and read back: seq, time and content as Tinode stored them")
    func registerPublishRead() async throws {
        try await SessionHarness.run { harness in
            let (session, identity) = try await harness.register("alice")
            #expect(identity.userID.hasPrefix("usr"))
            #expect(identity.token.count == 50)
            let first = try await session.publish(content: jsonText("hello"))
            let second = try await session.publish(content: jsonText("world"))
            #expect(first.topic == harness.room)
            #expect(second.seq == first.seq + 1)
            let stored = harness.double.messages(inTopic: harness.room)
            #expect(stored.map(\.seq) == [first.seq, second.seq])
            #expect(abs(first.timestamp.timeIntervalSince(stored[0].timestamp)) < 0.002)

            let page = try await session.history(limit: 10)
            #expect(page.messages.map(\.seq) == [second.seq, first.seq])
            #expect(page.messages.map(\.content) == [jsonText("world"), jsonText("hello")])
            #expect(page.messages.allSatisfy { $0.from == identity.userID })
            let older = try await session.history(before: second.seq, limit: 10)
            #expect(older.messages.map(\.seq) == [first.seq])
        }
    }

    @Test("a registered address cannot register again: Tinode's 409 comes through")
    func duplicateRegistration() async throws {
        try await SessionHarness.run { harness in
            _ = try await harness.register("bob")
            let error = await #expect(throws: TinodeSessionError.self) { _ = try await harness.register("bob") }
            #expect(error == .rejected(code: 409, text: "duplicate credential", params: ["what": "auth"]))
            #expect(await harness.pool.count == 1)
        }
    }

    @Test("password login works; a wrong password is refused as a failed login")
    func passwordLogin() async throws {
        try await SessionHarness.run { harness in
            let (_, registered) = try await harness.register("carol")
            let (_, loggedIn) = try await harness.pool.logIn(.basic(login: "user_carol", password: "pw-carol-123"))
            #expect(loggedIn.userID == registered.userID)
            await #expect(throws: TinodeSessionError.authenticationFailed(code: 401, text: "authentication failed")) {
                _ = try await harness.pool.logIn(.basic(login: "user_carol", password: "wrong-password"))
            }
        }
    }

    @Test("a session opened from a stored token logs in by token and publishes")
    func tokenSession() async throws {
        try await SessionHarness.run { harness in
            let (first, identity) = try await harness.register("dave")
            await harness.pool.close(userID: identity.userID)
            #expect(await first.isClosed)
            let session = try await harness.pool.session(userID: identity.userID, token: identity.token)
            let receipt = try await session.publish(content: jsonText("by token"))
            #expect(receipt.seq >= 1)
            #expect(await session.identity?.userID == identity.userID)
        }
    }

    @Test("300 publishes in flight on one session with replies delayed at random: each gets its own seq")
    func concurrentReordered() async throws {
        try await SessionHarness.run { harness in
            let (session, _) = try await harness.register("erin")
            harness.double.setReplyDelay(.zero ... .milliseconds(30))
            let receipts = try await withThrowingTaskGroup(of: (Int, PublishReceipt).self) { group in
                for index in 0..<300 {
                    group.addTask { (index, try await session.publish(content: jsonText("message \(index)"))) }
                }
                return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
            }
            harness.double.setReplyDelay(nil)
            #expect(receipts.count == 300)
            #expect(Set(receipts.values.map(\.seq)).count == 300)
            // The seq each request got is the seq its own content was stored under.
            let stored = Dictionary(uniqueKeysWithValues: harness.double.messages(inTopic: harness.room).map { ($0.seq, $0.content) })
            for (index, receipt) in receipts {
                #expect(stored[receipt.seq] == jsonText("message \(index)"))
            }
        }
    }

    @Test("replies released in reverse order still reach the right requests")
    func reversedReplies() async throws {
        try await SessionHarness.run { harness in
            let (session, identity) = try await harness.register("frank")
            harness.double.holdReplies(user: identity.userID)
            let sent = Task {
                try await withThrowingTaskGroup(of: (Int, PublishReceipt).self) { group in
                    for index in 0..<20 {
                        group.addTask { (index, try await session.publish(content: jsonText("r\(index)"))) }
                    }
                    return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
                }
            }
            #expect(await eventually { harness.double.messages(inTopic: harness.room).count == 20 })
            harness.double.releaseReplies(user: identity.userID)
            let receipts = try await sent.value
            let stored = Dictionary(uniqueKeysWithValues: harness.double.messages(inTopic: harness.room).map { ($0.seq, $0.content) })
            for (index, receipt) in receipts {
                #expect(stored[receipt.seq] == jsonText("r\(index)"))
            }
        }
    }

    @Test("a request whose reply never comes times out; the session goes on")
    func timeout() async throws {
        try await SessionHarness.run { harness in
            let (session, _) = try await harness.register("grace")
            await session.setRequestTimeout(.milliseconds(400))
            harness.double.dropNextReplies(kind: "pub", count: 1)
            let start = ContinuousClock.now
            await #expect(throws: TinodeSessionError.timeout) { _ = try await session.publish(content: jsonText("lost reply")) }
            #expect(ContinuousClock.now - start < .seconds(5))  // the 400 ms timeout, not the 10 s default
            // Tinode stored it even though the reply was lost: a retry layer must use idempotency keys.
            // (On a loaded machine the 400 ms can run out before the {pub} has even reached the double.)
            #expect(await eventually { harness.double.messages(inTopic: harness.room).count == 1 })
            // The timeout also probed the stream with a heartbeat; let it finish, so that what follows
            // does not depend on the machine's speed.
            await session.setRequestTimeout(.seconds(10))
            #expect(await eventually { await session.pendingCount == 0 })
            let receipt = try await session.publish(content: jsonText("next"))
            #expect(receipt.seq == 2)
        }
    }

    @Test("a reply that comes after its timeout is dropped without harm")
    func lateReply() async throws {
        try await SessionHarness.run { harness in
            let (session, _) = try await harness.register("heidi")
            await session.setRequestTimeout(.milliseconds(300))
            harness.double.setReplyDelay(.milliseconds(600) ... .milliseconds(600))
            await #expect(throws: TinodeSessionError.timeout) { _ = try await session.publish(content: jsonText("late")) }
            try await Task.sleep(for: .milliseconds(500))  // the late ack arrives now, for an id nobody waits for
            harness.double.setReplyDelay(nil)
            await session.setRequestTimeout(.seconds(10))  // the rest must not depend on the machine's speed
            let receipt = try await session.publish(content: jsonText("on time"))
            #expect(receipt.seq == 2)
            let page = try await session.history(limit: 5)
            #expect(page.messages.map(\.seq) == [2, 1])
        }
    }

    @Test("history pages while another user publishes: only the requested range, newest first")
    func historyDuringLiveTraffic() async throws {
        try await SessionHarness.run { harness in
            let (reader, _) = try await harness.register("ivan")
            for index in 1...30 {
                try harness.double.publish(asUser: harness.roomOwner, topic: harness.room, content: jsonText("old \(index)"))
            }
            let writer = Task {
                for index in 1...20 {
                    try harness.double.publish(asUser: harness.roomOwner, topic: harness.room, content: jsonText("new \(index)"))
                    try await Task.sleep(for: .milliseconds(2))
                }
            }
            let page = try await reader.history(before: 21, limit: 10)
            try await writer.value
            #expect(page.messages.map(\.seq) == Array((11...20).reversed()))
        }
    }
}
