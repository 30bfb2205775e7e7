import Foundation
import TinodeProto

/// Everything the double knows: accounts, topics, history and the open sessions. It lives behind one
/// mutex (`World`); every operation runs to completion under it without suspending, which keeps
/// each request atomic and each topic's fan-out in seq order on every stream.
struct WorldState: Sendable {
    let options: TinodeDouble.Options
    let tokens = TokenMint()
    var users: [String: UserRecord] = [:]
    var userIDsByLogin: [String: String] = [:]
    var topics: [String: TopicRecord] = [:]
    var sessions: [Int: SessionRecord] = [:]
    var sessionIDsByUser: [String: Set<Int>] = [:]
    var nextSessionID = 1
    var receivedCounts: [String: Int] = [:]
    /// The message limit of every data query answered (`{get what:"data"}`, or data in a `{sub}`),
    /// as the adapter applies it: at most 100, and 100 when none was given.
    var dataQueryLimits: [Int] = []
    /// Confirmation mails, oldest first (`Options.emailValidation`).
    var mails: [MailRecord] = []
    var faults = FaultSettings()
    var acceptsStreams = true
    /// Sessions whose outbox overflowed during the current operation; they go half-dead at its end
    /// rather than in the middle of a fan-out.
    var overflowed: [Int] = []
    /// Set by a `rest` login for `World` to carry out once the lock is released.
    var pendingRESTLogin: PendingRESTLogin?

    init(options: TinodeDouble.Options) {
        self.options = options
    }

    /// Queues a message for one session, through the fault knobs. Messages for the requesting session
    /// of a request whose replies are being dropped vanish here.
    mutating func send(_ message: Pbx_ServerMsg, to sessionID: Int, for request: RequestContext?, isFinal: Bool = false) {
        guard let session = sessions[sessionID], !session.isHalfDead else { return }
        if let request, request.dropsReplies, request.sessionID == sessionID { return }
        let hold = session.userID.map { faults.heldUsers.contains($0) } ?? false
        let delay = faults.replyDelay.map(Self.randomDelay)
        if session.outbox.enqueue(message, delay: delay, hold: hold, isFinal: isFinal) == .overflowed {
            overflowed.append(sessionID)
        }
    }

    mutating func reply(_ message: Pbx_ServerMsg, _ request: RequestContext) {
        send(message, to: request.sessionID, for: request)
    }

    /// Ends the operation: sessions whose client fell behind stop being written to (half-dead), as
    /// when Tinode's writer gives up on a session with more than 128 unsent messages.
    mutating func settle(now: Int64) {
        while let sessionID = overflowed.popLast() {
            makeHalfDead(sessionID, now: now)
        }
    }

    mutating func newUserID() -> String {
        while true {
            let name = TinodeID.userName(UInt64.random(in: 1...UInt64.max))
            if users[name] == nil { return name }
        }
    }

    mutating func newGroupName() -> String {
        while true {
            let name = TinodeID.groupName(UInt64.random(in: 1...UInt64.max))
            if topics[name] == nil { return name }
        }
    }

    private static func randomDelay(in range: ClosedRange<Duration>) -> Duration {
        .nanoseconds(Int64.random(in: range.lowerBound.nanoseconds...range.upperBound.nanoseconds))
    }
}

/// The request being handled: who asked, when, and whether its replies are to be dropped.
struct RequestContext: Equatable, Sendable {
    let sessionID: Int
    let dropsReplies: Bool
    let now: Int64
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    var milliseconds: Int64 {
        nanoseconds / 1_000_000
    }
}

/// Wall-clock milliseconds, Tinode's unit for every time it sends.
enum WallClock {
    static func nowMillis() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded())
    }
}
