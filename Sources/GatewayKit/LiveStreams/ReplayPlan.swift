/// What a resuming live client is sent from history before it goes live: the messages after the
/// last seq it has, at most `maxReplay` of them, read in windows of `pageSize` seqs, oldest first.
///
/// A client that missed more than `maxReplay` seqs gets the newest `maxReplay` only, announced by a
/// `ReplayReset`: replaying a whole busy room to every reconnecting client would let one client
/// make the Gateway (and Tinode) read without bound before the first byte goes out.
struct ReplayPlan: Sendable, Equatable {
    /// The last seq the client has (its `Last-Event-ID`).
    let resumeAfter: Int
    /// The newest seq to replay: the last one the user's session handed to its live feed when the
    /// stream subscribed. Everything above it reaches the stream live.
    let latest: Int
    /// Set when the client missed more than the replay limit.
    let reset: ReplayReset?

    init(resumeAfter: Int, latest: Int, maxReplay: Int) {
        self.resumeAfter = resumeAfter
        self.latest = latest
        let missed = latest - resumeAfter
        reset = missed > maxReplay ? ReplayReset(fromSeq: latest - maxReplay + 1, lastEventID: resumeAfter, latestSeq: latest) : nil
    }

    /// The first seq replayed.
    var firstSeq: Int { reset?.fromSeq ?? resumeAfter + 1 }

    /// The windows to read, oldest first, each at most `pageSize` seqs wide, so that one `get data`
    /// answers with at most `pageSize` messages however many seqs were deleted. Empty when the
    /// client is up to date or ahead (it may come from another instance whose session is a
    /// message ahead of this one's).
    func windows(pageSize: Int) -> [ClosedRange<Int>] {
        guard latest >= firstSeq else { return [] }
        return stride(from: firstSeq, through: latest, by: pageSize).map { start in start...min(start + pageSize - 1, latest) }
    }
}

/// Tells a client that the replay does not start right after its `Last-Event-ID`: seqs
/// `lastEventID + 1 ..< fromSeq` were skipped because there were more than the replay limit.
struct ReplayReset: Sendable, Equatable {
    /// The first seq the replay starts from (that message may have been deleted since).
    let fromSeq: Int
    /// The id the client resumed from.
    let lastEventID: Int
    /// The newest seq of the replay; live messages follow it.
    let latestSeq: Int
    /// Why: the only reason so far.
    var reason: String { "replay_limit" }
}
