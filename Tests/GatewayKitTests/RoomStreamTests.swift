import Foundation
import Synchronization
import Testing

@testable import GatewayKit

/// `RoomStream` driven without sockets: a scripted history, a real `LiveFeed`, and a `send` that
/// records, blocks or fails like a client would.
@Suite("Room stream: replay, switch to live, cut-off", .timeLimit(.minutes(1)))
struct RoomStreamTests {
    static let room = "grpRoom"

    static func message(_ seq: Int) -> ChatMessage {
        ChatMessage(topic: room, seq: seq, from: "usrA", timestamp: Date(timeIntervalSince1970: 0), content: Data("\"m\(seq)\"".utf8))
    }

    /// A room's history with the seqs in `seqs`; logs each page read, and runs `duringFetch` with the
    /// number of the page being read before answering it.
    final class ScriptedHistory: RoomHistory {
        let seqs: Set<Int>
        let latest: Int
        let log = Mutex<[String]>([])
        let duringFetch: @Sendable (Int) async -> Void
        let fails: Bool
        private let pages = Atomic(0)

        init(
            seqs: some Sequence<Int>, latest: Int, fails: Bool = false, duringFetch: @escaping @Sendable (Int) async -> Void = { _ in }
        ) {
            self.seqs = Set(seqs)
            self.latest = latest
            self.fails = fails
            self.duringFetch = duringFetch
        }

        func latestSeq() async throws -> Int { latest }

        func messages(in window: ClosedRange<Int>) async throws -> [ChatMessage] {
            let page = pages.add(1, ordering: .relaxed).newValue
            log.withLock { $0.append("page \(window.lowerBound)-\(window.upperBound)") }
            await duringFetch(page)
            if fails { throw CancellationError() }
            return window.filter(seqs.contains).map(RoomStreamTests.message)
        }

        var logged: [String] { log.withLock { $0 } }
    }

    /// How a running stream ended, or nil when it had not ended within `limit` (it is cancelled
    /// then): a bound that does not hold fails the test rather than hanging it.
    static func result(of running: Task<RoomStream.Ending, Never>, within limit: Duration = .seconds(10)) async -> RoomStream.Ending? {
        await withTaskGroup(of: RoomStream.Ending?.self) { group in
            group.addTask { await running.value }
            group.addTask {
                try? await Task.sleep(for: limit)
                return nil
            }
            let first = await group.next() ?? nil
            running.cancel()
            group.cancelAll()
            return first
        }
    }

    /// What a `send` received, in order.
    final class Recorder: Sendable {
        let items = Mutex<[RoomStream.Item]>([])
        let history: ScriptedHistory?

        init(history: ScriptedHistory? = nil) {
            self.history = history
        }

        func record(_ item: RoomStream.Item) {
            items.withLock { $0.append(item) }
            if case .message(let message) = item { history?.log.withLock { $0.append("sent \(message.seq)") } }
        }

        var seqs: [Int] {
            items.withLock { items in
                items.compactMap { item in
                    if case .message(let message) = item { return message.seq }
                    return nil
                }
            }
        }
    }

    @Test("a client that missed more than the limit gets a reset, then exactly the newest `limit` in order, read page by page")
    func resetThenNewest() async throws {
        let history = ScriptedHistory(seqs: 1...1234, latest: 1234)
        let feed = LiveFeed(bufferSize: 16) {}
        let recorder = Recorder(history: history)
        let plan = try await RoomStream.plan(resumeAfter: 0, history: history, maxReplay: 1000)
        let stream = RoomStream(
            subscription: feed.subscribe(), history: history, room: Self.room, plan: plan, keepAlive: nil, lease: nil)
        let running = Task { await stream.run { recorder.record($0) } }
        for _ in 0..<500 where recorder.seqs.count < 1000 { try await Task.sleep(for: .milliseconds(10)) }
        feed.finishAll(.sessionClosed)
        #expect(await Self.result(of: running) == .feedEnded(.sessionClosed))
        let items = recorder.items.withLock { $0 }
        #expect(items.first == .reset(ReplayReset(fromSeq: 235, lastEventID: 0, latestSeq: 1234)))
        #expect(recorder.seqs == Array(235...1234))
        let pages = history.logged.filter { $0.hasPrefix("page") }
        #expect(pages.count == 20)
        #expect(pages.first == "page 235-284")
        // Streamed as read: the first message went out before the last page was asked for.
        let firstSent = try #require(history.logged.firstIndex(of: "sent 235"))
        let lastPage = try #require(history.logged.firstIndex(of: "page 1185-1234"))
        #expect(firstSent < lastPage)
    }

    @Test("live messages that arrive during the replay are sent once, in order, after it: no gap, no duplicate")
    func switchToLive() async throws {
        let feed = LiveFeed(bufferSize: 64) {}
        let subscription = feed.subscribe()
        // The session had handed seq 120 to the feed when the stream subscribed; while the second
        // page is read, 118 to 125 arrive live (118 to 120 again, as when they were delivered just
        // as the stream subscribed), and one message of another topic.
        let history = ScriptedHistory(seqs: (1...120).filter { $0 != 70 }, latest: 120) { page in
            guard page == 2 else { return }
            for seq in 118...125 { feed.publish(.message(RoomStreamTests.message(seq))) }
            var other = RoomStreamTests.message(126)
            other.topic = "usrPeer"
            feed.publish(.message(other))
        }
        let recorder = Recorder()
        let plan = try await RoomStream.plan(resumeAfter: 0, history: history, maxReplay: 1000)
        let stream = RoomStream(subscription: subscription, history: history, room: Self.room, plan: plan, keepAlive: nil, lease: nil)
        let running = Task { await stream.run { recorder.record($0) } }
        for _ in 0..<300 where recorder.seqs.last != 125 { try await Task.sleep(for: .milliseconds(10)) }
        feed.publish(.message(Self.message(126)))
        for _ in 0..<300 where recorder.seqs.last != 126 { try await Task.sleep(for: .milliseconds(10)) }
        running.cancel()
        _ = await Self.result(of: running)
        // 70 was deleted: a hole in seq, not a gap in what exists.
        #expect(recorder.seqs == (1...126).filter { $0 != 70 })
        #expect(recorder.items.withLock { $0.first } == .message(Self.message(1)))  // no reset within the limit
    }

    @Test("a live-only stream (no Last-Event-ID) reads no history and sends every live message")
    func liveOnly() async throws {
        let feed = LiveFeed(bufferSize: 8) {}
        let history = ScriptedHistory(seqs: 1...10, latest: 10)
        let recorder = Recorder()
        let plan = try await RoomStream.plan(resumeAfter: nil, history: history, maxReplay: 1000)
        #expect(plan == nil)
        let stream = RoomStream(
            subscription: feed.subscribe(), history: history, room: Self.room, plan: plan, keepAlive: nil, lease: nil)
        let running = Task { await stream.run { recorder.record($0) } }
        try await Task.sleep(for: .milliseconds(50))
        for seq in 11...13 { feed.publish(.message(Self.message(seq))) }
        for _ in 0..<300 where recorder.seqs.count < 3 { try await Task.sleep(for: .milliseconds(10)) }
        feed.finishAll(.sessionClosed)
        #expect(await Self.result(of: running) == .feedEnded(.sessionClosed))
        #expect(recorder.seqs == [11, 12, 13])
        #expect(history.logged.isEmpty)
    }

    @Test("a client that stops reading is cut off once its buffer is full: the write is cancelled, counted once, everything given back")
    func blockedWriterCutOff() async throws {
        let cutOffs = Atomic(0)
        let feed = LiveFeed(bufferSize: 4) { cutOffs.add(1, ordering: .relaxed) }
        let quota = StreamQuota()
        let lease = try #require(quota.acquire(user: "usrReader", limit: 1))
        let subscription = feed.subscribe()
        let writes = Atomic(0)
        let cancelledWrites = Atomic(0)
        let stream = RoomStream(
            subscription: subscription, history: ScriptedHistory(seqs: [], latest: 0), room: Self.room, plan: nil, keepAlive: nil,
            lease: lease)
        let running = Task {
            await stream.run { _ in
                writes.add(1, ordering: .relaxed)
                // A socket that takes nothing: the write never completes unless cancelled.
                do { try await Task.sleep(for: .seconds(3600)) } catch {
                    cancelledWrites.add(1, ordering: .relaxed)
                    throw error
                }
            }
        }
        try await Task.sleep(for: .milliseconds(50))
        for seq in 1...50 {
            feed.publish(.message(Self.message(seq)))
            try await Task.sleep(for: .milliseconds(2))
        }
        #expect(await Self.result(of: running) == .cutOff)
        #expect(writes.load(ordering: .relaxed) == 1)
        #expect(cancelledWrites.load(ordering: .relaxed) == 1)
        #expect(subscription.endReason == .cutOff)
        #expect(cutOffs.load(ordering: .relaxed) == 1)
        #expect(quota.count(user: "usrReader") == 0)
        for _ in 0..<100 where feed.subscriberCount > 0 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(feed.subscriberCount == 0)
    }

    @Test("in a quiet room keep-alives flow to a reading client; one that reads nothing is cut off after a buffer of them")
    func keepAlives() async throws {
        let feed = LiveFeed(bufferSize: 3) {}
        let recorder = Recorder()
        let reading = RoomStream(
            subscription: feed.subscribe(), history: ScriptedHistory(seqs: [], latest: 0), room: Self.room, plan: nil,
            keepAlive: .milliseconds(20), lease: nil)
        let running = Task { await reading.run { recorder.record($0) } }
        for _ in 0..<300 where recorder.items.withLock({ $0.count }) < 4 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(recorder.items.withLock { Array($0.prefix(4)) } == Array(repeating: RoomStream.Item.keepAlive, count: 4))
        running.cancel()
        _ = await Self.result(of: running)

        let stuck = RoomStream(
            subscription: feed.subscribe(), history: ScriptedHistory(seqs: [], latest: 0), room: Self.room, plan: nil,
            keepAlive: .milliseconds(10), lease: nil)
        let ending = await Self.result(of: Task { await stuck.run { _ in try await Task.sleep(for: .seconds(3600)) } })
        #expect(ending == .cutOff)
    }

    @Test("a client gone, a failed replay and a stream dropped unrun each end cleanly and give their place back")
    func otherEndings() async throws {
        let feed = LiveFeed(bufferSize: 8) {}
        let quota = StreamQuota()
        let history = ScriptedHistory(seqs: 1...10, latest: 10)
        let gone = RoomStream(
            subscription: feed.subscribe(), history: history, room: Self.room,
            plan: ReplayPlan(resumeAfter: 0, latest: 10, maxReplay: 100), keepAlive: nil,
            lease: quota.acquire(user: "usrA", limit: 3))
        #expect(await gone.run { _ in throw CancellationError() } == .clientGone)

        let failing = RoomStream(
            subscription: feed.subscribe(), history: ScriptedHistory(seqs: 1...10, latest: 10, fails: true), room: Self.room,
            plan: ReplayPlan(resumeAfter: 0, latest: 10, maxReplay: 100), keepAlive: nil,
            lease: quota.acquire(user: "usrA", limit: 3))
        #expect(await failing.run { _ in } == .replayFailed)
        #expect(quota.count(user: "usrA") == 0)

        do {
            _ = RoomStream(
                subscription: feed.subscribe(), history: history, room: Self.room, plan: nil, keepAlive: nil,
                lease: quota.acquire(user: "usrA", limit: 3))
            #expect(quota.count(user: "usrA") == 0)  // dropped at once
        }
        for _ in 0..<100 where feed.subscriberCount > 0 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(feed.subscriberCount == 0)
    }
}
