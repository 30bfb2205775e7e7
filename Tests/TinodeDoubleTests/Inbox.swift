import Synchronization

/// A queue with one reader that can wait for the next element with a timeout; the timeout is what
/// lets tests assert that nothing arrives (half-dead streams, held or dropped replies).
final class Inbox<Element: Sendable>: Sendable {
    private struct State {
        var buffer: [Element] = []
        var waiter: (id: Int, continuation: CheckedContinuation<Element?, Never>)?
        var lastWaiterID = 0
        var lastExpiredID = 0
    }

    private let state = Mutex(State())

    func push(_ element: Element) {
        let waiter = state.withLock { state -> CheckedContinuation<Element?, Never>? in
            guard let waiter = state.waiter else {
                state.buffer.append(element)
                return nil
            }
            state.waiter = nil
            return waiter.continuation
        }
        waiter?.resume(returning: element)
    }

    /// The next element, or nil when none arrived within `timeout`.
    func next(within timeout: Duration) async -> Element? {
        let (immediate, id) = state.withLock { state -> (Element?, Int) in
            if !state.buffer.isEmpty { return (state.buffer.removeFirst(), 0) }
            state.lastWaiterID += 1
            return (nil, state.lastWaiterID)
        }
        if let immediate { return immediate }
        return await withTaskGroup(of: Element?.self) { group in
            group.addTask { await self.wait(id) }
            group.addTask {
                try? await Task.sleep(for: timeout)
                self.expire(id)
                return nil
            }
            // The waiter is resumed exactly once, with an element or with nil after the timeout.
            var result: Element?
            for await value in group {
                if let value { result = value }
                group.cancelAll()
            }
            return result
        }
    }

    private func wait(_ id: Int) async -> Element? {
        await withCheckedContinuation { continuation in
            let immediate = state.withLock { state -> Element?? in
                if !state.buffer.isEmpty { return .some(state.buffer.removeFirst()) }
                if state.lastExpiredID >= id { return .some(nil) }
                state.waiter = (id, continuation)
                return nil
            }
            if let immediate { continuation.resume(returning: immediate) }
        }
    }

    private func expire(_ id: Int) {
        let waiter = state.withLock { state -> CheckedContinuation<Element?, Never>? in
            state.lastExpiredID = max(state.lastExpiredID, id)
            guard let waiter = state.waiter, waiter.id == id else { return nil }
            state.waiter = nil
            return waiter.continuation
        }
        waiter?.resume(returning: nil)
    }
}
