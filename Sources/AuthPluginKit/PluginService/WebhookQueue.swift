import Foundation
import Synchronization

/// One event on its way to one URL.
struct WebhookDelivery: Sendable {
    let event: WebhookEvent
    let url: URL
}

/// The bounded queue between the plugin RPCs (which must answer Tinode at once) and the webhook
/// workers. `push` never waits: when the queue is full the oldest delivery is dropped, and the
/// caller counts it. `next` waits for a delivery; after `finish` it hands out what is left, then nil.
final class WebhookQueue: Sendable {
    private struct State {
        /// Waiting deliveries are `items[head...]`; the consumed prefix is compacted away now and then.
        var items: [WebhookDelivery] = []
        var head = 0
        var count: Int { items.count - head }
        var waiters: [(id: UInt64, continuation: CheckedContinuation<WebhookDelivery?, Never>)] = []
        var nextWaiterID: UInt64 = 0
        var finished = false
    }

    private let state: Mutex<State>
    let capacity: Int

    init(capacity: Int) {
        precondition(capacity > 0, "a webhook queue needs room for one delivery")
        self.capacity = capacity
        state = Mutex(State())
    }

    /// Deliveries waiting.
    var depth: Int { state.withLock { $0.count } }

    /// Adds `delivery`; returns how many older deliveries were dropped to make room (0 or 1).
    /// After `finish` the delivery is refused and counted as dropped.
    @discardableResult
    func push(_ delivery: WebhookDelivery) -> Int {
        let capacity = self.capacity
        let (waiter, dropped) = state.withLock { state -> (CheckedContinuation<WebhookDelivery?, Never>?, Int) in
            if state.finished { return (nil, 1) }
            if !state.waiters.isEmpty { return (state.waiters.removeFirst().continuation, 0) }
            var dropped = 0
            if state.count >= capacity {
                _ = Self.popFirst(&state)
                dropped = 1
            }
            state.items.append(delivery)
            return (nil, dropped)
        }
        waiter?.resume(returning: delivery)
        return dropped
    }

    /// The oldest delivery, waiting for one if the queue is empty; nil once finished and empty, or
    /// when the calling task is cancelled.
    func next() async -> WebhookDelivery? {
        if let ready = state.withLock({ Self.popFirst(&$0) }) { return ready }
        let id = state.withLock { state -> UInt64 in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<WebhookDelivery?, Never>) in
                let immediate: WebhookDelivery?? = state.withLock { state in
                    if let ready = Self.popFirst(&state) { return .some(ready) }
                    if state.finished || Task.isCancelled { return .some(nil) }
                    state.waiters.append((id, continuation))
                    return nil
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<WebhookDelivery?, Never>? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index).continuation
            }
            waiter?.resume(returning: nil)
        }
    }

    /// No more pushes; waiting and later `next` calls drain what is left, then get nil.
    func finish() {
        let waiters = state.withLock { state in
            state.finished = true
            defer { state.waiters.removeAll() }
            return state.waiters.map(\.continuation)
        }
        for waiter in waiters { waiter.resume(returning: nil) }
    }

    private static func popFirst(_ state: inout State) -> WebhookDelivery? {
        guard state.count > 0 else { return nil }
        let delivery = state.items[state.head]
        state.head += 1
        if state.head == state.items.count {
            state.items.removeAll(keepingCapacity: true)
            state.head = 0
        } else if state.head >= 1024, state.head * 2 >= state.items.count {
            state.items.removeFirst(state.head)
            state.head = 0
        }
        return delivery
    }
}
