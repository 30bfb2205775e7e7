import Testing

@testable import GatewayKit

/// The session's connection state machine, without a stream or a clock: streams and waiters are
/// plain values, time is passed in.
@Suite("Session connection state machine")
struct SessionConnectionTests {
    typealias Machine = SessionConnection<String, Int>
    static let start = ContinuousClock.now

    static func machine() -> Machine {
        Machine(initialDelay: .milliseconds(100), maximumDelay: .seconds(1))
    }

    /// Opens stream `name` and completes its handshake.
    static func connect(_ machine: inout Machine, _ name: String, now: ContinuousClock.Instant = start) -> Int {
        guard case .open(let generation) = machine.demand(now: now) else {
            Issue.record("an idle session must open a stream")
            return -1
        }
        machine.opened(name, generation: generation)
        _ = machine.handshakeSucceeded(generation: generation)
        return generation
    }

    @Test("idle opens; a second request waits for the handshake, which lets both go on; then the stream is used")
    func openWaitReady() throws {
        var machine = Self.machine()
        guard case .open(let generation) = machine.demand(now: Self.start) else { throw Failure("expected open") }
        #expect(generation == 1)
        machine.opened("s1", generation: generation)
        guard case .wait = machine.demand(now: Self.start) else { throw Failure("expected wait") }
        let step1 = machine.wait(7)
        #expect(step1)
        let step2 = machine.wait(8)
        #expect(step2)
        let step3 = machine.handshakeSucceeded(generation: generation)
        let ready = try #require(step3)
        #expect(ready.waiters == [7, 8] && !ready.reconnected)
        guard case .use(let stream, let used) = machine.demand(now: Self.start) else { throw Failure("expected use") }
        #expect(stream == "s1" && used == 1)
        // Not connecting any more: a late waiter must be told to ask again.
        let step4 = machine.wait(9)
        #expect(!step4)
    }

    @Test("a failed handshake backs off with exponential, capped delays; requests fail fast until then; success resets the count")
    func backoff() throws {
        var machine = Self.machine()
        var delays: [Duration] = []
        for attempt in 1...6 {
            let now = Self.start + .seconds(attempt * 10)
            guard case .open(let generation) = machine.demand(now: now) else { throw Failure("expected open") }
            machine.opened("s\(attempt)", generation: generation)
            let step5 = machine.wait(attempt)
            #expect(step5)
            let outcome = machine.handshakeFailed(
                generation: generation, failure: .unavailable(retryAfter: .seconds(1)), now: now, subscribers: attempt == 1, jitter: 1)
            guard case .backOff(let waiters, let delay, let reconnect) = outcome else { throw Failure("expected backoff") }
            #expect(waiters == [attempt])
            #expect(reconnect == (attempt == 1))
            delays.append(delay)
            guard case .fail(.unavailable(let retryAfter)) = machine.demand(now: now + .milliseconds(50)) else {
                throw Failure("expected a fast failure while backing off")
            }
            #expect(retryAfter == delay - .milliseconds(50))
            #expect(!machine.reconnectDue(now: now + .milliseconds(50)))
            #expect(machine.reconnectDue(now: now + delay))
        }
        #expect(delays == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1), .seconds(1)])
        _ = Self.connect(&machine, "good", now: Self.start + .seconds(100))
        guard case .use(let stream, _) = machine.demand(now: Self.start + .seconds(100)) else { throw Failure("expected use") }
        #expect(stream == "good")
        #expect(machine.failedAttempts == 0)
        #expect(machine.backoffDelay(attempt: 1, jitter: 1.2) == .milliseconds(120))
    }

    @Test("a refused login closes for good: waiters fail, later requests fail with the same reason")
    func permanentFailure() throws {
        var machine = Self.machine()
        guard case .open(let generation) = machine.demand(now: Self.start) else { throw Failure("expected open") }
        machine.opened("s1", generation: generation)
        _ = machine.wait(1)
        let refused = TinodeSessionError.authenticationFailed(code: 401, text: "authentication failed")
        guard
            case .close(let waiters) = machine.handshakeFailed(
                generation: generation, failure: refused, now: Self.start, subscribers: true, jitter: 1)
        else { throw Failure("expected close") }
        #expect(waiters == [1])
        #expect(machine.isClosed)
        guard case .fail(let reason) = machine.demand(now: Self.start + .seconds(60)) else { throw Failure("expected fail") }
        #expect(reason == refused)
        let step6 = machine.close(reason: .closed)
        #expect(step6 == nil)
    }

    @Test("a broken stream: idle again, its generation is left behind, reconnect only for live subscribers of a ready stream")
    func breaks() throws {
        var machine = Self.machine()
        let first = Self.connect(&machine, "s1")
        let step7 = machine.streamBroke(generation: first, subscribers: true, jitter: 1)
        let broken = try #require(step7)
        #expect(broken.stream == "s1" && broken.reconnectAfter == .milliseconds(100))
        #expect(machine.retriesAfterBreak)
        // A late end of the same, replaced stream changes nothing.
        let step8 = machine.streamBroke(generation: first, subscribers: true, jitter: 1)
        #expect(step8 == nil)
        let second = Self.connect(&machine, "s2")
        #expect(second == first + 2)
        let step9 = machine.handshakeSucceeded(generation: second)
        #expect(step9 == nil)
        // Without subscribers, nobody waits: no background reconnect.
        let step10 = machine.streamBroke(generation: second, subscribers: false, jitter: 1)
        #expect(try #require(step10).reconnectAfter == nil)
        // Broken during its handshake: the waiters fail; the handshake backs off on its own.
        guard case .open(let third) = machine.demand(now: Self.start) else { throw Failure("expected open") }
        machine.opened("s3", generation: third)
        _ = machine.wait(5)
        let step11 = machine.streamBroke(generation: third, subscribers: true, jitter: 1)
        let duringHandshake = try #require(step11)
        #expect(duringHandshake.waiters == [5] && duringHandshake.reconnectAfter == nil)
        let step12 = machine.handshakeSucceeded(generation: third)
        #expect(step12 == nil)
    }

    @Test("closing: the open stream and the handshake's waiters are handed back once; a stream opened after the close is not adopted")
    func closing() throws {
        var machine = Self.machine()
        guard case .open(let generation) = machine.demand(now: Self.start) else { throw Failure("expected open") }
        machine.opened("s1", generation: generation)
        _ = machine.wait(3)
        let step13 = machine.close(reason: .closed)
        let closing = try #require(step13)
        #expect(closing.stream == "s1" && closing.waiters == [3])
        let step14 = machine.handshakeSucceeded(generation: generation)
        #expect(step14 == nil)
        guard
            case .alreadyClosed(let waiters) = machine.handshakeFailed(
                generation: generation, failure: .timeout, now: Self.start, subscribers: false, jitter: 1)
        else { throw Failure("expected alreadyClosed") }
        #expect(waiters.isEmpty)
        machine.opened("late", generation: generation)
        #expect(machine.isClosed && !machine.retriesAfterBreak)
    }
}

struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
