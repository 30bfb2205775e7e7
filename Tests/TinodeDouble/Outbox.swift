import GRPCCore
import Synchronization
import TinodeProto

/// The outgoing side of one stream: an ordered queue drained by a single writer, so replies reach
/// the client in the order the session produced them, as from Tinode's one write loop per session.
///
/// The fault knobs act here: a message may be due later (reply delay), held back until `release()`
/// (then sent newest first), or end the stream's output (a 205 before a half-dead phase). More than
/// `limit` unsent messages make the session give up writing, like Tinode's 128-message send queue.
final class Outbox: Sendable {
    enum Admission: Equatable {
        case queued
        /// The outbox no longer writes (half-dead, draining or after its final message).
        case refused
        /// The client fell too far behind: the outbox stopped writing for good.
        case overflowed
    }

    private struct Pending: Sendable {
        var message: Pbx_ServerMsg
        /// Nothing is written after this message.
        var isFinal: Bool
    }

    private struct Delayed: Sendable {
        var due: ContinuousClock.Instant
        var order: Int
        var pending: Pending
    }

    private enum Phase: Sendable {
        case open
        /// The client half-closed: write what is ready, then stop.
        case draining
        case halted
    }

    private struct State: Sendable {
        var ready: [Pending] = []
        var readyStart = 0
        var delayed: [Delayed] = []
        var held: [Pending] = []
        var order = 0
        var phase = Phase.open
        var finalQueued = false
        var wakePending = false
        var waiter: CheckedContinuation<Void, Never>?

        var readyCount: Int { ready.count - readyStart }

        /// Takes the parked writer, for the caller to resume once the lock is released; otherwise
        /// leaves a wake-up for the writer's next wait. Resuming inside the lock can deadlock: the
        /// writer's cancellation handler takes this lock while the runtime holds the writer task's
        /// status lock, which resuming that task needs too.
        mutating func wake() -> CheckedContinuation<Void, Never>? {
            if let waiter {
                self.waiter = nil
                return waiter
            }
            wakePending = true
            return nil
        }

        mutating func discardAll() {
            ready = []
            readyStart = 0
            delayed = []
            held = []
        }
    }

    private enum Step {
        case write([Pbx_ServerMsg], isLast: Bool)
        case wait(until: ContinuousClock.Instant?)
        case finish
    }

    private let state = Mutex(State())
    private let limit: Int
    private static let batchSize = 64

    init(limit: Int) {
        self.limit = limit
    }

    /// Queues a message. `delay` makes it due later; `hold` keeps it until `release()`. A final
    /// message is never held, so an eviction reaches a client whose replies are held.
    @discardableResult
    func enqueue(_ message: Pbx_ServerMsg, delay: Duration? = nil, hold: Bool = false, isFinal: Bool = false) -> Admission {
        let (admission, writer) = state.withLock { state -> (Admission, CheckedContinuation<Void, Never>?) in
            guard state.phase == .open, !state.finalQueued else { return (.refused, nil) }
            if isFinal { state.finalQueued = true }
            let pending = Pending(message: message, isFinal: isFinal)
            if hold && !isFinal {
                state.held.append(pending)
                return (.queued, nil)
            }
            if let delay {
                state.order += 1
                state.delayed.append(Delayed(due: .now + delay, order: state.order, pending: pending))
            } else {
                state.ready.append(pending)
                if state.readyCount > limit {
                    state.phase = .halted
                    state.discardAll()
                    return (.overflowed, state.wake())
                }
            }
            return (.queued, state.wake())
        }
        writer?.resume()
        return admission
    }

    /// Wakes the writer: the change is made under the lock, the resumption after it.
    private func wakeWriter(after change: (inout State) -> Void = { _ in }) {
        state.withLock { state -> CheckedContinuation<Void, Never>? in
            change(&state)
            return state.wake()
        }?.resume()
    }

    /// Sends the held messages, newest first: a deterministic reordering for tests.
    func release() {
        state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard state.phase != .halted, !state.held.isEmpty else { return nil }
            state.ready.append(contentsOf: state.held.reversed())
            state.held = []
            return state.wake()
        }?.resume()
    }

    /// Stops writing at once and forgets everything queued (a half-dead session).
    func halt() {
        wakeWriter { state in
            state.phase = .halted
            state.discardAll()
        }
    }

    /// The client half-closed: what is ready still goes out, delayed and held messages do not.
    func drain() {
        wakeWriter { state in
            if state.phase == .open { state.phase = .draining }
        }
    }

    /// The single writer. Returns when the outbox halts or drained; throws when writing fails.
    func run(writingTo writer: RPCWriter<Pbx_ServerMsg>) async throws {
        try await withThrowingDiscardingTaskGroup { group in
            var timerDue: ContinuousClock.Instant?
            writing: while !Task.isCancelled {
                switch nextStep() {
                case .write(let batch, let isLast):
                    try await writer.write(contentsOf: batch)
                    if isLast { break writing }
                case .finish:
                    break writing
                case .wait(let due):
                    // One timer per earliest due time wakes the writer for delayed replies.
                    if let due, timerDue.map({ due < $0 }) ?? true {
                        timerDue = due
                        group.addTask { [self] in
                            try? await Task.sleep(until: due, clock: .continuous)
                            wakeWriter()
                        }
                    }
                    await waitForWork()
                    if let armed = timerDue, armed <= .now { timerDue = nil }
                }
            }
            group.cancelAll()
        }
    }

    private func nextStep() -> Step {
        state.withLock { state in
            if state.phase == .halted { return .finish }
            var batch: [Pbx_ServerMsg] = []
            var isLast = false
            if !state.delayed.isEmpty {
                let now = ContinuousClock.now
                let due = state.delayed.filter { $0.due <= now }.sorted { ($0.due, $0.order) < ($1.due, $1.order) }
                if !due.isEmpty {
                    state.delayed.removeAll { $0.due <= now }
                    for entry in due where !isLast {
                        batch.append(entry.pending.message)
                        isLast = entry.pending.isFinal
                    }
                }
            }
            while !isLast, state.readyCount > 0, batch.count < Self.batchSize {
                let pending = state.ready[state.readyStart]
                state.readyStart += 1
                batch.append(pending.message)
                isLast = pending.isFinal
            }
            if state.readyStart > 1024, state.readyStart * 2 > state.ready.count {
                state.ready.removeFirst(state.readyStart)
                state.readyStart = 0
            }
            if isLast {
                state.phase = .halted
                state.discardAll()
            }
            if !batch.isEmpty { return .write(batch, isLast: isLast) }
            if state.phase == .draining {
                state.phase = .halted
                state.discardAll()
                return .finish
            }
            return .wait(until: state.delayed.map(\.due).min())
        }
    }

    private func waitForWork() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.wakePending || state.phase == .halted {
                        state.wakePending = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            // Either the waiter is already parked and is woken here, or it sees wakePending and
            // does not park; the loop then notices the cancellation.
            wakeWriter()
        }
    }
}
