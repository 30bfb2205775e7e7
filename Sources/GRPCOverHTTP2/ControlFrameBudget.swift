import NIOCore

/// How many HTTP/2 control frames (PING, SETTINGS, PRIORITY, ALTSVC, ORIGIN) a peer may send: the
/// flood rule of both of our HTTP/2 links, kept apart from the sockets so that tests drive it.
///
/// A gRPC peer built on grpc-go (Tinode, as server and as plugin client) pings once for every burst
/// of DATA it receives: its flow-control estimator sends a PING whenever DATA arrives and none of its
/// PINGs is unanswered (tinode-protocol.md section 9). So the number of PINGs such a peer sends is
/// bounded by the DATA frames *we* send it, never by time: a fixed count per 30 s (NIO's default
/// rule, 200) cuts a healthy peer off after 200 requests, and no fixed rate is both safe and enough.
///
/// The budget therefore has two parts:
/// * **earned** credit: one per DATA frame we send (and per PING or SETTINGS we send, for their
///   acknowledgements), up to `earnedCap`. Each control frame spends earned credit first.
/// * an **allowance** for frames nothing of ours asked for (keepalive pings, SETTINGS changes, an
///   idle peer's PINGs): `allowance` per `window`, refilled continuously (a token bucket).
///
/// A control frame that finds neither is a flood: the link ends the connection. A peer that pings
/// without being sent anything, or sends far more control frames than it gets answers, is cut off
/// after `allowance` frames, as under NIO's own rule; a peer that pings once per answer never is.
public struct ControlFrameBudget: Sendable {
    /// The numbers of the rule.
    public struct Limits: Sendable, Equatable {
        /// Control frames a peer may send unearned per `window` (NIO's default: 200 per 30 s).
        public var allowance: Int
        public var window: TimeAmount
        /// The most earned credit kept. A grpc-go peer spends one per PING right after it is earned,
        /// so credit only piles up while the peer is quiet; the cap bounds what such a pile lets it
        /// send at once.
        public var earnedCap: Int

        public init(allowance: Int = 200, window: TimeAmount = .seconds(30), earnedCap: Int = 4096) {
            precondition(allowance > 0 && window > .zero && earnedCap >= 0, "a control-frame budget needs a positive allowance")
            self.allowance = allowance
            self.window = window
            self.earnedCap = earnedCap
        }
    }

    public let limits: Limits
    /// Unearned frames still allowed, as of `refilledAt`, in units of 1/`window` nanoseconds so that
    /// refilling needs no division per frame.
    private var allowanceLeft: Int64
    private var refilledAt: NIODeadline
    public private(set) var earned: Int

    public init(limits: Limits = Limits(), now: NIODeadline = .now()) {
        self.limits = limits
        allowanceLeft = Int64(limits.allowance) * limits.window.nanoseconds
        refilledAt = now
        earned = 0
    }

    /// We sent something that the peer may answer with a control frame.
    public mutating func earn(_ frames: Int = 1) {
        earned = min(limits.earnedCap, earned + frames)
    }

    /// The peer sent a control frame: false when it has no credit left (a flood).
    public mutating func spend(now: NIODeadline) -> Bool {
        if earned > 0 {
            earned -= 1
            return true
        }
        refill(now: now)
        let cost = limits.window.nanoseconds
        guard allowanceLeft >= cost else { return false }
        allowanceLeft -= cost
        return true
    }

    /// Unearned frames the peer could send right now.
    public func allowanceRemaining(now: NIODeadline) -> Int {
        var copy = self
        copy.refill(now: now)
        return Int(copy.allowanceLeft / limits.window.nanoseconds)
    }

    private mutating func refill(now: NIODeadline) {
        guard now > refilledAt else { return }
        // One unearned frame per (window / allowance) elapsed: in these units, elapsed nanoseconds
        // times the allowance.
        let elapsed = (now - refilledAt).nanoseconds
        let full = Int64(limits.allowance) * limits.window.nanoseconds
        let (gain, overflow) = elapsed.multipliedReportingOverflow(by: Int64(limits.allowance))
        allowanceLeft = overflow || gain >= full - allowanceLeft ? full : allowanceLeft + gain
        refilledAt = now
    }
}
