import Foundation
import Testing
import TinodeProto

@testable import AuthPluginKit

@Suite("The webhook queue: bounded, oldest dropped, drained at shutdown")
struct WebhookQueueTests {
    static func delivery(_ seq: Int32) -> WebhookDelivery {
        WebhookDelivery(
            event: .message(
                .with {
                    $0.action = .create; $0.msg = .with { $0.seqID = seq }
                }),
            url: URL(string: "http://127.0.0.1:1/hook")!)
    }

    static func seq(_ delivery: WebhookDelivery?) -> Int? {
        guard let delivery, let json = try? JSONSerialization.jsonObject(with: delivery.event.body) as? [String: Any] else { return nil }
        return ((json["data"] as? [String: Any])?["seq_id"] as? NSNumber)?.intValue
    }

    @Test("a full queue drops its oldest delivery and says so; order is kept")
    func dropsOldest() async {
        let queue = WebhookQueue(capacity: 3)
        var dropped: [Int] = []
        for seq in 1...5 { dropped.append(queue.push(Self.delivery(Int32(seq)))) }
        #expect(dropped == [0, 0, 0, 1, 1])
        #expect(queue.depth == 3)
        #expect(Self.seq(await queue.next()) == 3)
        #expect(Self.seq(await queue.next()) == 4)
        #expect(Self.seq(await queue.next()) == 5)
        #expect(queue.depth == 0)
    }

    @Test("a waiting consumer gets the next push; finish drains what is left, then nil; later pushes are refused")
    func waitAndFinish() async throws {
        let queue = WebhookQueue(capacity: 10)
        let waiting = Task { await queue.next() }
        try await Task.sleep(for: .milliseconds(50))
        queue.push(Self.delivery(7))
        #expect(Self.seq(await waiting.value) == 7)
        queue.push(Self.delivery(8))
        queue.finish()
        #expect(queue.push(Self.delivery(9)) == 1)
        #expect(Self.seq(await queue.next()) == 8)
        #expect(await queue.next() == nil)
    }

    @Test("cancelling a waiting consumer ends its wait with nil")
    func cancelledWait() async throws {
        let queue = WebhookQueue(capacity: 10)
        let waiting = Task { await queue.next() }
        try await Task.sleep(for: .milliseconds(50))
        waiting.cancel()
        #expect(await waiting.value == nil)
        // The queue still works for the next consumer.
        queue.push(Self.delivery(1))
        #expect(Self.seq(await queue.next()) == 1)
    }

    @Test("many pushes and pops interleaved keep every delivery exactly once")
    func compaction() async {
        let queue = WebhookQueue(capacity: 100_000)
        var seen: [Int] = []
        for seq in 1...5000 {
            queue.push(Self.delivery(Int32(seq)))
            if seq % 3 == 0, let next = Self.seq(await queue.next()) { seen.append(next) }
        }
        while queue.depth > 0, let next = Self.seq(await queue.next()) { seen.append(next) }
        #expect(seen == Array(1...5000))
    }
}
