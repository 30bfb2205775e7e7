import Foundation
import Synchronization
import Testing

@testable import GatewayKit

@Suite("Live feed fan-out")
struct LiveFeedTests {
    private func event(_ seq: Int) -> LiveEvent {
        .message(ChatMessage(topic: "grpRoom", seq: seq, from: "usrA", timestamp: Date(timeIntervalSince1970: 0), content: Data("1".utf8)))
    }

    @Test("a subscriber that does not read is cut off and counted; the others keep everything")
    func slowSubscriberCutOff() async {
        let cutOffs = Atomic<Int>(0)
        let feed = LiveFeed(bufferSize: 4) { cutOffs.add(1, ordering: .relaxed) }
        let slow = feed.subscribe()
        let fast = feed.subscribe()
        let received = Task {
            var seqs: [Int] = []
            for await case .message(let message) in fast.events {
                seqs.append(message.seq)
                if seqs.count == 10 { break }
            }
            return seqs
        }
        for seq in 1...10 {
            feed.publish(event(seq))
            await Task.yield()
            try? await Task.sleep(for: .milliseconds(2))
        }
        #expect(await received.value == Array(1...10))
        #expect(slow.endReason == .cutOff)
        #expect(cutOffs.load(ordering: .relaxed) == 1)
        // What the slow subscriber had buffered is still readable, then its sequence ends.
        var buffered: [Int] = []
        for await case .message(let message) in slow.events { buffered.append(message.seq) }
        #expect(buffered == [1, 2, 3, 4])
        #expect(feed.subscriberCount == 1)  // the cut-off subscriber is gone, the fast one stays
    }

    @Test("closing the session ends every subscription with its reason")
    func finishAll() async {
        let feed = LiveFeed(bufferSize: 8) {}
        let subscription = feed.subscribe()
        feed.publish(event(1))
        feed.finishAll(.sessionClosed)
        var count = 0
        for await _ in subscription.events { count += 1 }
        #expect(count == 1)
        #expect(subscription.endReason == .sessionClosed)
    }

    @Test("a subscriber that stops listening is forgotten")
    func unsubscribe() async {
        let feed = LiveFeed(bufferSize: 8) {}
        do {
            let subscription = feed.subscribe()
            let task = Task { for await _ in subscription.events {} }
            task.cancel()
            _ = await task.value
        }
        for _ in 0..<50 where feed.subscriberCount > 0 { try? await Task.sleep(for: .milliseconds(10)) }
        #expect(feed.subscriberCount == 0)
    }
}
