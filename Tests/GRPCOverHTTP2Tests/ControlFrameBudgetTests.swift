import GRPCOverHTTP2
import NIOCore
import Testing

/// The control-frame rule on its own, on a clock the tests move by hand.
@Suite("control-frame budget")
struct ControlFrameBudgetTests {
    /// An arbitrary start, far from zero so that no instant below goes negative.
    static let start = NIODeadline.uptimeNanoseconds(1_000_000_000_000)

    static func at(_ offset: TimeAmount) -> NIODeadline { start + offset }

    /// How many control frames the budget takes at `now` before it refuses one (at most `limit`).
    static func framesTaken(_ budget: inout ControlFrameBudget, at now: NIODeadline, limit: Int = 100_000) -> Int {
        var taken = 0
        while taken < limit, budget.spend(now: now) { taken += 1 }
        return taken
    }

    @Test("a pure ping flood is refused after exactly `allowance` frames, and stays refused at that instant")
    func pureFlood() {
        var budget = ControlFrameBudget(now: Self.start)
        #expect(budget.limits.allowance == 200)
        let taken = Self.framesTaken(&budget, at: Self.start)
        #expect(taken == 200)
        let oneMore = budget.spend(now: Self.start)
        #expect(!oneMore)
        #expect(budget.allowanceRemaining(now: Self.start) == 0)

        var small = ControlFrameBudget(limits: .init(allowance: 7, window: .seconds(1)), now: Self.start)
        let takenSmall = Self.framesTaken(&small, at: Self.start)
        #expect(takenSmall == 7)
    }

    @Test("earned credit is spent before the allowance")
    func earnedFirst() {
        var budget = ControlFrameBudget(limits: .init(allowance: 10, window: .seconds(10)), now: Self.start)
        budget.earn(3)
        #expect(budget.earned == 3)
        for left in [2, 1, 0] {
            let spent = budget.spend(now: Self.start)
            #expect(spent)
            #expect(budget.earned == left)
            #expect(budget.allowanceRemaining(now: Self.start) == 10, "the allowance was touched while credit was left")
        }
        let fromAllowance = budget.spend(now: Self.start)
        #expect(fromAllowance)
        #expect(budget.allowanceRemaining(now: Self.start) == 9)
        // The rest: 9 more from the allowance, then nothing.
        let rest = Self.framesTaken(&budget, at: Self.start)
        #expect(rest == 9)
        // Credit earned after the allowance ran out is still good, one frame per credit.
        budget.earn(2)
        let earnedLate = Self.framesTaken(&budget, at: Self.start)
        #expect(earnedLate == 2)
    }

    @Test("a peer that pings once per DATA frame it receives is never refused")
    func grpcGoPattern() {
        var budget = ControlFrameBudget(now: Self.start)
        var now = Self.start
        var refused = 0
        // 100,000 answers in 10 s (10,000 per second), each followed by the peer's PING; and its ACK of
        // one PING of ours every 1,000 answers.
        for answer in 1...100_000 {
            now = now + .microseconds(100)
            budget.earn()
            if !budget.spend(now: now) { refused += 1 }
            if answer % 1_000 == 0 {
                budget.earn()
                if !budget.spend(now: now) { refused += 1 }
            }
        }
        #expect(refused == 0)
        #expect(budget.earned == 0)
        #expect(budget.allowanceRemaining(now: now) == 200, "the grpc-go pattern used the unearned allowance")
    }

    @Test("the allowance refills over time at allowance per window, and never beyond allowance")
    func refill() {
        var budget = ControlFrameBudget(limits: .init(allowance: 10, window: .seconds(10)), now: Self.start)
        let first = Self.framesTaken(&budget, at: Self.start)
        #expect(first == 10)
        // One frame per second refills.
        #expect(budget.allowanceRemaining(now: Self.at(.milliseconds(999))) == 0)
        let early = Self.framesTaken(&budget, at: Self.at(.milliseconds(999)))
        #expect(early == 0)
        let afterOneSecond = Self.framesTaken(&budget, at: Self.at(.seconds(1)))
        #expect(afterOneSecond == 1)
        #expect(budget.allowanceRemaining(now: Self.at(.seconds(4))) == 3)
        let afterFourAndAHalf = Self.framesTaken(&budget, at: Self.at(.milliseconds(4_500)))
        #expect(afterFourAndAHalf == 3)
        // Half seconds add up: 0.5 s left over from before, 0.5 s more is one frame.
        let afterFiveAndAHalf = Self.framesTaken(&budget, at: Self.at(.milliseconds(5_500)))
        #expect(afterFiveAndAHalf == 1)
        // A long quiet spell gives back the whole allowance, no more.
        #expect(budget.allowanceRemaining(now: Self.at(.seconds(3_600))) == 10)
        let afterAnHour = Self.framesTaken(&budget, at: Self.at(.seconds(3_600)))
        #expect(afterAnHour == 10)
        // A clock that goes back takes nothing and gives nothing.
        let back = Self.framesTaken(&budget, at: Self.start)
        #expect(back == 0)
    }

    @Test("earned credit is capped at earnedCap")
    func earnedCap() {
        var budget = ControlFrameBudget(limits: .init(allowance: 5, window: .seconds(30), earnedCap: 100), now: Self.start)
        budget.earn(60)
        budget.earn(60)
        #expect(budget.earned == 100)
        for _ in 0..<1_000 { budget.earn() }
        #expect(budget.earned == 100)
        // A quiet peer's pile of credit lets it send the cap plus the allowance at once, not more.
        let taken = Self.framesTaken(&budget, at: Self.start)
        #expect(taken == 105)

        var defaults = ControlFrameBudget(now: Self.start)
        defaults.earn(1_000_000)
        #expect(defaults.earned == 4_096)
        let takenDefaults = Self.framesTaken(&defaults, at: Self.start)
        #expect(takenDefaults == 4_096 + 200)
    }

    @Test("a huge quiet spell neither overflows nor goes past the allowance")
    func overflow() {
        var budget = ControlFrameBudget(limits: .init(allowance: 1_000_000, window: .hours(1)), now: Self.start)
        let first = Self.framesTaken(&budget, at: Self.start, limit: 2_000_000)
        #expect(first == 1_000_000)
        let later = NIODeadline.uptimeNanoseconds(UInt64(Int64.max) - 1)
        #expect(budget.allowanceRemaining(now: later) == 1_000_000)
        let refilled = Self.framesTaken(&budget, at: later, limit: 2_000_000)
        #expect(refilled == 1_000_000)
    }
}
