import Foundation
import Testing

@testable import GatewayKit

@Suite("Live feed ordering")
struct SequenceTrackerTests {
    private func message(_ seq: Int) -> ChatMessage {
        ChatMessage(topic: "grpRoom", seq: seq, from: "usrA", timestamp: Date(timeIntervalSince1970: 0), content: Data("\"m\(seq)\"".utf8))
    }

    @Test("messages in order are delivered at once; older and repeated ones never")
    func inOrder() {
        var tracker = SequenceTracker()
        tracker.start(at: 5)
        #expect(tracker.accept(message(4)).isEmpty)
        #expect(tracker.accept(message(5)).isEmpty)
        #expect(tracker.accept(message(6)).map(\.seq) == [6])
        #expect(tracker.accept(message(6)).isEmpty)
        #expect(tracker.lastDelivered == 6)
    }

    @Test("a page that arrives newest first is delivered oldest first once the hole closes")
    func newestFirstPage() {
        var tracker = SequenceTracker()
        tracker.start(at: 10)
        #expect(tracker.accept(message(14)).isEmpty)
        #expect(tracker.accept(message(13)).isEmpty)
        #expect(tracker.accept(message(12)).isEmpty)
        #expect(tracker.hasHole)
        #expect(tracker.accept(message(11)).map(\.seq) == [11, 12, 13, 14])
        #expect(!tracker.hasHole)
    }

    @Test("a seq that a fetch did not return is skipped, the rest delivered in order")
    func skipDeleted() {
        var tracker = SequenceTracker()
        tracker.start(at: 1)
        _ = tracker.accept(message(3))
        _ = tracker.accept(message(5))
        #expect(tracker.skip(through: 4).map(\.seq) == [3, 5])
        #expect(tracker.lastDelivered == 5)
    }

    @Test("a later start does not move the point the feed resumes from")
    func startOnce() {
        var tracker = SequenceTracker()
        tracker.start(at: 3)
        tracker.start(at: 9)
        #expect(tracker.lastDelivered == 3)
    }

    @Test("messages before the room's seq is known are ignored")
    func beforeStart() {
        var tracker = SequenceTracker()
        #expect(tracker.accept(message(1)).isEmpty)
        #expect(tracker.lastDelivered == nil)
    }

    @Test("too many messages waiting for a hole skip it rather than grow without bound")
    func boundedWaiting() {
        var tracker = SequenceTracker(maximumWaiting: 3)
        tracker.start(at: 0)
        var delivered: [Int] = []
        for seq in 2...5 { delivered += tracker.accept(message(seq)).map(\.seq) }
        #expect(delivered == [2, 3, 4, 5])
        #expect(!tracker.hasHole)
    }
}
