import ServiceLifecycle

/// One client's stream of the chat room, the same for SSE and WebSocket: first what the client
/// missed (`ReplayPlan`), read from history a window at a time and sent as it is read, then the
/// live feed, with no gap and no duplicate at the switch.
///
/// Every buffer is bounded, because a client that stops reading must cost the Gateway a fixed
/// amount, not memory that grows with the room: replay pages are read only once the previous one
/// was written (the writer's backpressure reaches Tinode's send queue, never more than `pageSize`
/// messages in it at once), and live events wait for the writer in a buffer of the feed's size
/// (`GATEWAY_LIVE_BUFFER`). A client whose buffer overflows is cut off: its write is cancelled, the
/// stream ends, the cut-off is counted with the feed's, and the client resumes with its last seq.
///
/// The stream lives as long as its access token works (`TokenWatch`): revoked, refreshed away or
/// expired, the token ends the stream at once.
///
/// The stream owns its subscription and its `StreamLease`: both are given back when it ends, or
/// when it is dropped without having run (a response that was never written).
final class RoomStream: Sendable {
    /// What the client is sent, in order.
    enum Item: Sendable, Equatable {
        /// The replay skips seqs (more were missed than the replay limit); comes first.
        case reset(ReplayReset)
        case message(ChatMessage)
        /// Nothing happened for a while (SSE comment lines keep proxies from closing the stream).
        case keepAlive
    }

    /// Why the stream ended.
    enum Ending: Sendable, Equatable {
        /// The live feed ended: the session closed (logout, eviction, shutdown) or cut us off.
        case feedEnded(LiveSubscription.EndReason?)
        /// The client fell a whole buffer behind (or its socket stopped taking data).
        case cutOff
        /// The Gateway is shutting down.
        case shutdown
        /// Writing to the client failed: it went away.
        case clientGone
        /// Reading the replay from Tinode failed.
        case replayFailed
        /// The access token the stream was opened with no longer works.
        case tokenEnded(TokenEnd)
    }

    /// The token a stream was opened with, and how often to ask the store whether it still works.
    struct TokenWatch: Sendable {
        let authorization: StreamAuthorization
        let recheckEvery: Duration
        /// False once the store no longer has the token (a store that cannot answer counts as true:
        /// an outage must not end every stream).
        let isLive: @Sendable () async -> Bool
    }

    /// What waits for the writer: live events, keep-alives, the feed's end.
    private enum Queued: Sendable {
        case message(ChatMessage)
        case keepAlive
        case ended(LiveSubscription.EndReason?)
    }

    /// The largest `get data` page of a replay: well below Tinode's send queue of 128 messages per
    /// session, which also carries the user's live traffic and other requests' answers.
    static let defaultPageSize = 50

    private let subscription: LiveSubscription
    private let history: any RoomHistory
    private let room: String?
    private let plan: ReplayPlan?
    private let pageSize: Int
    private let keepAlive: Duration?
    private let lease: StreamLease?
    private let tokenWatch: TokenWatch?

    /// `room`: the topic whose messages the stream carries (nil: every message of the feed).
    /// `plan`: what to replay first (nil: live only). `keepAlive`: how long a quiet stream waits
    /// before a `.keepAlive` (nil: never).
    init(
        subscription: LiveSubscription, history: any RoomHistory, room: String?, plan: ReplayPlan?,
        pageSize: Int = RoomStream.defaultPageSize, keepAlive: Duration?, lease: StreamLease?, tokenWatch: TokenWatch? = nil
    ) {
        precondition(pageSize > 0, "a replay page holds at least one message")
        self.subscription = subscription
        self.history = history
        self.room = room
        self.plan = plan
        self.pageSize = pageSize
        self.keepAlive = keepAlive
        self.lease = lease
        self.tokenWatch = tokenWatch
    }

    /// Reads the replay's end from `history` (after `subscription` was made, so that what comes
    /// later arrives live) and plans the replay after `resumeAfter` (nil: live only).
    static func plan(resumeAfter: Int?, history: any RoomHistory, maxReplay: Int) async throws -> ReplayPlan? {
        guard let resumeAfter else { return nil }
        return ReplayPlan(resumeAfter: resumeAfter, latest: try await history.latestSeq(), maxReplay: maxReplay)
    }

    deinit {
        subscription.cancel()
        lease?.release()
    }

    /// Sends the stream through `send`, which returns once the item is written (or throws when the
    /// client is gone), until the stream ends; returns why. Cancelling `send` is how a client that
    /// stopped reading is cut off, so `send` must give up when its task is cancelled.
    func run(send: @escaping @Sendable (Item) async throws -> Void) async -> Ending {
        let (queue, sink) = AsyncStream.makeStream(of: Queued.self, bufferingPolicy: .bufferingOldest(subscription.bufferSize))
        let ending = await withTaskGroup(of: Ending?.self) { group in
            group.addTask { await self.forwardLive(into: sink) }
            if let keepAlive {
                group.addTask { await self.tick(every: keepAlive, into: sink) }
            }
            group.addTask {
                // Outside a service group this waits until cancelled.
                (try? await gracefulShutdown()) == nil ? nil : .shutdown
            }
            if let tokenWatch {
                group.addTask {
                    await tokenWatch.authorization.watch(recheckEvery: tokenWatch.recheckEvery, isLive: tokenWatch.isLive)
                        .map { .tokenEnded($0) }
                }
            }
            group.addTask { await self.write(queue, send: send) }
            // The first child with an answer decides; the others are cancelled. The live feed ending
            // (nil) leaves the writer to send what is buffered first.
            var ending = Ending.clientGone
            while let next = await group.next() {
                if let next {
                    ending = next
                    break
                }
            }
            group.cancelAll()
            // A revocation also closes the user's Tinode session, which ends the feed: whichever of
            // the two came first, the client is told that its token ended, not merely to reconnect.
            if case .feedEnded = ending, let reason = tokenWatch?.authorization.endReason {
                ending = .tokenEnded(reason)
            }
            return ending
        }
        sink.finish()
        subscription.cancel()
        lease?.release()
        return ending
    }

    /// Moves the room's live messages into the writer's queue; cuts the stream off when the queue
    /// is full. Returns nil when the feed ended (with the end queued behind its last messages).
    private func forwardLive(into sink: AsyncStream<Queued>.Continuation) async -> Ending? {
        for await event in subscription.events {
            guard case .message(let message) = event, room.map({ message.topic == $0 }) ?? true else { continue }
            if case .dropped = sink.yield(.message(message)) {
                subscription.cutOff()
                return .cutOff
            }
        }
        if Task.isCancelled { return nil }
        // The feed cut us off (this stream fell behind reading it): the client is behind, end now.
        if subscription.endReason == .cutOff { return .cutOff }
        if case .dropped = sink.yield(.ended(subscription.endReason)) {
            return .feedEnded(subscription.endReason)
        }
        return nil
    }

    /// Queues a keep-alive every `interval`. A writer a whole buffer of them behind has not written
    /// for `bufferSize` intervals: its client is cut off even in a quiet room.
    private func tick(every interval: Duration, into sink: AsyncStream<Queued>.Continuation) async -> Ending? {
        while (try? await Task.sleep(for: interval)) != nil {
            if case .dropped = sink.yield(.keepAlive) {
                subscription.cutOff()
                return .cutOff
            }
        }
        return nil
    }

    /// The single writer: the replay, page by page, then what the queue brings, each message once.
    private func write(_ queue: AsyncStream<Queued>, send: @Sendable (Item) async throws -> Void) async -> Ending {
        var lastSent = plan?.resumeAfter
        if let plan {
            if let reset = plan.reset {
                do { try await send(.reset(reset)) } catch { return .clientGone }
            }
            for window in plan.windows(pageSize: pageSize) {
                let page: [ChatMessage]
                do { page = try await history.messages(in: window) } catch { return .replayFailed }
                for message in page where lastSent.map({ message.seq > $0 }) ?? true {
                    do { try await send(.message(message)) } catch { return .clientGone }
                    lastSent = message.seq
                }
            }
            // Live copies of seqs up to the plan's end (delivered while the stream subscribed) were
            // replayed, or deleted since: not sent again.
            lastSent = max(lastSent ?? plan.latest, plan.latest)
        }
        for await queued in queue {
            switch queued {
            case .message(let message):
                if let lastSent, message.seq <= lastSent { continue }
                do { try await send(.message(message)) } catch { return .clientGone }
                lastSent = message.seq
            case .keepAlive:
                do { try await send(.keepAlive) } catch { return .clientGone }
            case .ended(let reason):
                return .feedEnded(reason)
            }
        }
        return .feedEnded(subscription.endReason)
    }
}
