import Foundation
import Logging
import NIOCore
import NIOPosix
import SidecarCore
import TinodeProto

/// One user's session with Tinode: an actor owning one `MessageLoop` stream.
///
/// It opens on demand (`hi`, login, `sub me`, `sub <room>`), gives every request a unique id and
/// routes Tinode's replies, which come out of order and sometimes as several messages, back to the
/// request that caused them. A heartbeat finds dead and half-dead streams; a broken stream is
/// reconnected with backoff, logged in again by token and re-subscribed, and the live feed resumes
/// from the last delivered `seq`.
///
/// The protocol logic lives in plain values that the actor runs and carries out the actions of:
/// ``SessionConnection`` (the stream's state, backoff), ``RequestCorrelation`` (request ids and
/// replies), ``SequenceTracker`` (the room's order, gaps). Deadlines (request timeouts, the wait for
/// a `pub`'s echo) are event-loop timers, as everywhere else in the programs.
public actor TinodeSession {
    /// How the session proves who it is.
    public enum Login: Sendable {
        /// Tinode's own 50-byte token (the base64-decoded `token` param of an earlier login).
        case token(Data)
        /// `basic` with the mapped login name and the user's password (password login).
        case basic(login: String, password: String)
        /// Creates the account (`acc` with `basic`, `login: true`), then carries on as that user.
        case register(login: String, password: String, name: String, email: String)
        /// Tinode's `rest` scheme with a JWT of the self-hoster's backend as the secret: Tinode asks
        /// AuthPlugin (REST-auth) whose token it is, and creates the account on first use.
        case rest(token: String)
        /// `basic` with the code Tinode mailed to `email` as the response to that credential.
        case answeringCode(login: String, password: String, email: String, code: String)
    }

    /// Who the session is logged in as, and the token that logs it in again.
    public struct Identity: Sendable, Equatable {
        public var userID: String
        public var token: Data
        public var tokenExpires: Date?
    }

    /// A request waiting for its reply, and the timer that ends the wait.
    struct RequestWaiter {
        let continuation: CheckedContinuation<Reply, any Error>
        let deadline: Scheduled<Void>
    }

    let connector: any TinodeStreamOpening
    let tasks: BackgroundTasks
    var settings: TinodeSessionSettings
    let metrics: TinodeSessionMetrics
    var logger: Logger
    let feed: LiveFeed

    var login: Login
    /// Set after the first successful login.
    public internal(set) var identity: Identity?
    var connection: SessionConnection<TinodeStream, CheckedContinuation<Void, any Error>>
    var requests = RequestCorrelation<RequestWaiter>()
    /// Where the deadlines run.
    let timers: any EventLoop
    var lastHeard = ContinuousClock.now
    /// One probe at a time: many requests timing out together must not pile up heartbeats.
    var heartbeatInFlight = false
    /// When the next heartbeat is due (``scheduleHeartbeat(generation:after:)``).
    var heartbeatTimer: Scheduled<Void>?
    var evictedByTinode = false
    var sequence = SequenceTracker()
    var catchingUp = false
    /// Set by the handshake when the room moved on while we were away.
    var needsCatchUp = false
    var roomSeqAtJoin: Int?
    /// Times of recently echoed messages by topic and seq, for `pub` receipts (ctrl carries no time).
    var echoTimes: [MessageKey: Date] = [:]
    var echoOrder: [MessageKey] = []
    var echoWaiters: [MessageKey: (continuation: CheckedContinuation<Date?, Never>, deadline: Scheduled<Void>)] = [:]

    struct MessageKey: Hashable {
        let topic: String
        let seq: Int
    }

    public init(
        login: Login, connector: any TinodeStreamOpening, tasks: BackgroundTasks, settings: TinodeSessionSettings,
        metrics: TinodeSessionMetrics = TinodeSessionMetrics(), logger: Logger,
        timers: any EventLoop = MultiThreadedEventLoopGroup.singleton.any()
    ) {
        self.login = login
        self.timers = timers
        self.connection = SessionConnection(initialDelay: settings.reconnectInitialDelay, maximumDelay: settings.reconnectMaximumDelay)
        self.connector = connector
        self.tasks = tasks
        self.settings = settings
        self.metrics = metrics
        self.logger = logger
        self.feed = LiveFeed(bufferSize: settings.liveBufferSize) { metrics.slowSubscriberCutOffs.increment() }
    }

    /// Live subscribers right now (read without waiting for the actor, for the pool's idle check).
    public nonisolated var subscriberCount: Int { feed.subscriberCount }

    /// True once the session is closed for good.
    public var isClosed: Bool { connection.isClosed }

    /// Requests that were sent and are not answered yet.
    public var pendingCount: Int { requests.count }

    /// The highest room seq handed to the live feed.
    public var lastDeliveredSeq: Int? { sequence.lastDelivered }

    // MARK: - Public operations

    /// Opens the stream and logs in if that has not happened yet.
    @discardableResult
    public func connect() async throws -> Identity {
        _ = try await readyStream()
        guard let identity else { throw TinodeSessionError.protocolViolation("logged in without an identity") }
        return identity
    }

    /// Sends a message to the room (or `topic`) as this user; returns Tinode's `seq` and time.
    /// `content` is JSON bytes: a JSON string for plain text, an object for Drafty (with head `mime`).
    public func publish(content: Data, head: [String: Data] = [:], topic: String? = nil) async throws -> PublishReceipt {
        let topic = try topic ?? requireRoom()
        for attempt in 1...2 {
            let (stream, generation) = try await readyStream()
            let id = nextRequestID()
            let reply = try await perform(
                ClientMessages.publish(id: id, topic: topic, content: content, head: head), id: id, kind: "pub",
                expectation: .ctrl, on: stream, generation: generation)
            guard let ctrl = reply.ctrl else { throw TinodeSessionError.protocolViolation("pub answered without ctrl") }
            if ctrl.code == 409, ctrl.text == "must attach first", attempt == 1 {
                // Tinode detached us from the topic (e.g. as a slow consumer); nothing was stored. Join
                // again and send once more.
                try await subscribe(topic: topic, on: stream, generation: generation)
                continue
            }
            guard ctrl.isSuccess else { throw ctrl.rejection }
            guard let seq = ctrl.intParam("seq") else { throw TinodeSessionError.protocolViolation("pub ack without seq") }
            let time = await echoTime(of: MessageKey(topic: topic, seq: seq))
            return PublishReceipt(topic: topic, seq: seq, timestamp: time ?? Date())
        }
        throw TinodeSessionError.protocolViolation("pub refused twice")
    }

    /// A page of the room's history, newest first: messages with seq below `before` (all when nil),
    /// at most `limit` (Tinode caps pages at 100).
    public func history(before: Int? = nil, limit: Int = 50, topic: String? = nil) async throws -> HistoryPage {
        let topic = try topic ?? requireRoom()
        return try await retryingOnceIfTheStreamBroke {
            let (stream, generation) = try await readyStream()
            let messages = try await fetchData(topic: topic, since: nil, before: before, limit: limit, on: stream, generation: generation)
            return HistoryPage(messages: messages)
        }
    }

    /// The room's (or `topic`'s) messages with seq from `since` to below `before`, newest first, at
    /// most `limit`: one window of a replay, which reads oldest first. Keep `limit` well below 128,
    /// Tinode's send queue per session: a page arrives as that many `data` messages at once, beside
    /// the live traffic, and a session whose queue overflows is dropped by Tinode.
    public func history(since: Int, before: Int, limit: Int, topic: String? = nil) async throws -> HistoryPage {
        let topic = try topic ?? requireRoom()
        return try await retryingOnceIfTheStreamBroke {
            let (stream, generation) = try await readyStream()
            let messages = try await fetchData(topic: topic, since: since, before: before, limit: limit, on: stream, generation: generation)
            return HistoryPage(messages: messages)
        }
    }

    /// Runs a read that changes nothing on Tinode once more on a new stream when the stream broke
    /// under it (a lost connection ends every stream it carried): the user gets the answer instead of
    /// a 503. Not for `pub`, which may have been stored before the break; a session that cannot
    /// reconnect fails fast as before.
    func retryingOnceIfTheStreamBroke<Result>(_ read: () async throws -> Result) async throws -> Result {
        do {
            return try await read()
        } catch let failure as TinodeSessionError {
            guard case .unavailable = failure, connection.retriesAfterBreak else { throw failure }
            metrics.readsRetried.increment()
            return try await read()
        }
    }

    /// The user's public name (`fn` of `me`'s public description), nil when there is none.
    public func displayName() async throws -> String? {
        let reply = try await retryingOnceIfTheStreamBroke {
            let (stream, generation) = try await readyStream()
            let id = nextRequestID()
            return try await perform(
                ClientMessages.getDescription(id: id, topic: "me"), id: id, kind: "get", expectation: .meta, on: stream,
                generation: generation)
        }
        if let ctrl = reply.ctrl, !ctrl.isSuccess { throw ctrl.rejection }
        guard let publicData = reply.meta?.desc.public, !publicData.isEmpty,
            let object = try? JSONSerialization.jsonObject(with: publicData) as? [String: Any]
        else { return nil }
        return object["fn"] as? String
    }

    /// The account's tags (`get me tags`). With Tinode's e-mail validator, `email:<address>` is among
    /// them only once that address was validated, and clients cannot add such tags themselves.
    public func tags() async throws -> [String] {
        let reply = try await retryingOnceIfTheStreamBroke {
            let (stream, generation) = try await readyStream()
            let id = nextRequestID()
            return try await perform(
                ClientMessages.getTags(id: id, topic: "me"), id: id, kind: "get", expectation: .meta, on: stream, generation: generation)
        }
        if let ctrl = reply.ctrl, !ctrl.isSuccess { throw ctrl.rejection }
        return reply.meta?.tags ?? []
    }

    /// Subscribes to the user's live feed; connects first so that the feed starts now.
    public func subscribeLive() async throws -> LiveSubscription {
        _ = try await readyStream()
        return feed.subscribe()
    }

    /// Leaves a topic (`unsubscribe`: also ends the membership).
    public func leave(topic: String, unsubscribe: Bool = false) async throws {
        let (stream, generation) = try await readyStream()
        let id = nextRequestID()
        let reply = try await perform(
            ClientMessages.leave(id: id, topic: topic, unsubscribe: unsubscribe), id: id, kind: "leave", expectation: .ctrl,
            on: stream, generation: generation)
        if let ctrl = reply.ctrl, !ctrl.isSuccess, ctrl.code != 304 { throw ctrl.rejection }
    }

    /// Sends any request built from its id and waits for what completes it; for the Gateway's own
    /// housekeeping (finding the room), not for user traffic.
    func request(kind: String, expectation: ReplyExpectation, _ build: (String) -> Pbx_ClientMsg) async throws -> Reply {
        let (stream, generation) = try await readyStream()
        let id = nextRequestID()
        return try await perform(build(id), id: id, kind: kind, expectation: expectation, on: stream, generation: generation)
    }

    /// Changes how long later requests wait for their reply.
    public func setRequestTimeout(_ timeout: Duration) {
        settings.requestTimeout = timeout
    }

    /// Sends a heartbeat (`hi` again, same version) and waits for its answer. A half-dead stream ends
    /// on it and is reconnected; a silent one times out and is reconnected.
    public func heartbeat() async throws {
        guard let (stream, generation) = connection.ready, !heartbeatInFlight else { return }
        heartbeatInFlight = true
        defer { heartbeatInFlight = false }
        let id = nextRequestID()
        do {
            _ = try await perform(
                ClientMessages.hi(id: id, version: settings.protocolVersion, userAgent: settings.userAgent), id: id,
                kind: "heartbeat", expectation: .ctrl, on: stream, generation: generation)
        } catch {
            logger.info("heartbeat failed; reconnecting", metadata: ["reason": "\(error)"])
            streamBroke(generation: generation, because: .unavailable(retryAfter: settings.reconnectInitialDelay))
            throw error
        }
    }

    /// Closes the session for good: pending requests and live subscribers end, the stream is
    /// half-closed so Tinode ends its session cleanly.
    public func close(reason: TinodeSessionError = .closed) {
        guard let closing = connection.close(reason: reason) else { return }
        for waiter in closing.waiters { waiter.resume(throwing: reason) }
        failAllPending(with: reason)
        endClosedSession(stream: closing.stream)
    }

    /// What closing leaves to do once the connection is closed and nothing waits any more: the live
    /// subscribers end, and the stream is half-closed so Tinode ends its session cleanly.
    func endClosedSession(stream: TinodeStream?) {
        heartbeatTimer?.cancel()
        heartbeatTimer = nil
        feed.finishAll(.sessionClosed)
        resumeEchoWaiters()
        metrics.sessionsClosed.increment()
        guard let stream else { return }
        stream.finish()
        // A half-dead stream never answers the half-close; do not keep it forever.
        timers.scheduleTask(in: Self.timeAmount(settings.requestTimeout)) { stream.cancel() }
    }
}
