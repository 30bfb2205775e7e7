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

    private let connector: any TinodeStreamOpening
    private let tasks: BackgroundTasks
    private var settings: TinodeSessionSettings
    private let metrics: TinodeSessionMetrics
    private var logger: Logger
    private let feed: LiveFeed

    private var login: Login
    /// Set after the first successful login.
    public private(set) var identity: Identity?
    private var connection: SessionConnection<TinodeStream, CheckedContinuation<Void, any Error>>
    private var requests = RequestCorrelation<RequestWaiter>()
    /// Where the deadlines run.
    private let timers: any EventLoop
    private var lastHeard = ContinuousClock.now
    /// One probe at a time: many requests timing out together must not pile up heartbeats.
    private var heartbeatInFlight = false
    private var evictedByTinode = false
    private var sequence = SequenceTracker()
    private var catchingUp = false
    /// Times of recently echoed messages by topic and seq, for `pub` receipts (ctrl carries no time).
    private var echoTimes: [MessageKey: Date] = [:]
    private var echoOrder: [MessageKey] = []
    private var echoWaiters: [MessageKey: (continuation: CheckedContinuation<Date?, Never>, deadline: Scheduled<Void>)] = [:]

    private struct MessageKey: Hashable {
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
    private func retryingOnceIfTheStreamBroke<Result>(_ read: () async throws -> Result) async throws -> Result {
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
    private func endClosedSession(stream: TinodeStream?) {
        feed.finishAll(.sessionClosed)
        resumeEchoWaiters()
        metrics.sessionsClosed.increment()
        guard let stream else { return }
        stream.finish()
        // A half-dead stream never answers the half-close; do not keep it forever.
        timers.scheduleTask(in: Self.timeAmount(settings.requestTimeout)) { stream.cancel() }
    }

    // MARK: - Connecting

    /// The open, logged-in stream; connects when there is none.
    private func readyStream() async throws -> (TinodeStream, Int) {
        while true {
            switch connection.demand(now: .now) {
            case .use(let stream, let generation):
                return (stream, generation)
            case .wait:
                try await withCheckedThrowingContinuation { (waiter: CheckedContinuation<Void, any Error>) in
                    if !connection.wait(waiter) { waiter.resume() }
                }
            case .open(let generation):
                try await openAndLogIn(generation: generation)
            case .fail(let reason):
                throw reason
            }
        }
    }

    private func openAndLogIn(generation: Int) async throws {
        let stream = connector.openStream(
            consume: { [weak self] messages in try await self?.consume(messages, generation: generation) },
            onEnd: { [weak self] error in await self?.streamEnded(generation: generation, error: error) })
        connection.opened(stream, generation: generation)
        lastHeard = .now
        do {
            try await handshake(on: stream, generation: generation)
        } catch {
            stream.cancel()
            let failure = error as? TinodeSessionError ?? .unavailable(retryAfter: settings.reconnectInitialDelay)
            connectFailed(generation: generation, failure: failure)
            throw failure
        }
        guard let (waiters, reconnected) = connection.handshakeSucceeded(generation: generation) else {
            // Closed, or the stream broke, while logging in.
            stream.cancel()
            if case .closed(let reason) = connection.phase { throw reason }
            throw TinodeSessionError.unavailable(retryAfter: settings.reconnectInitialDelay)
        }
        for waiter in waiters { waiter.resume() }
        if reconnected { metrics.reconnects.increment() }
        evictedByTinode = false
        logger.debug("Tinode session ready", metadata: ["user": "\(identity?.userID ?? "-")", "stream": "\(generation)"])
        tasks.spawn { [weak self] in await self?.superviseHeartbeat(generation: generation) }
        if sequence.hasHole || needsCatchUp { startCatchUp() }
    }

    /// Set by the handshake when the room moved on while we were away.
    private var needsCatchUp = false
    private var roomSeqAtJoin: Int?

    /// `hi`, login (or registration), `sub me`, `sub <room>` with its description.
    private func handshake(on stream: TinodeStream, generation: Int) async throws {
        let helloID = nextRequestID()
        let hello = try await perform(
            ClientMessages.hi(id: helloID, version: settings.protocolVersion, userAgent: settings.userAgent), id: helloID,
            kind: "hi", expectation: .ctrl, on: stream, generation: generation)
        guard let helloCtrl = hello.ctrl, helloCtrl.isSuccess else {
            throw hello.ctrl?.rejection ?? TinodeSessionError.protocolViolation("hi without ctrl")
        }

        let loginID = nextRequestID()
        let (message, kind) = loginMessage(id: loginID)
        let loginReply = try await perform(message, id: loginID, kind: kind, expectation: .ctrl, on: stream, generation: generation)
        guard let loginCtrl = loginReply.ctrl else { throw TinodeSessionError.protocolViolation("login without ctrl") }
        guard loginCtrl.code == 200 else {
            if loginCtrl.code == 300, let user = loginCtrl.stringParam("user"), let tokenText = loginCtrl.stringParam("token"),
                let token = Data(base64Encoded: tokenText)
            {
                // 300 "validate credentials" (fixture i): the account exists but its address is not
                // proven; the stream stays unauthenticated.
                throw TinodeSessionError.validationRequired(userID: user, token: token, expires: Self.expiry(loginCtrl))
            }
            switch login {
            case .register where loginCtrl.code == 409 || loginCtrl.code == 422, .answeringCode where loginCtrl.code == 422:
                // A duplicate or refused registration; a code answered wrongly too often (Tinode's
                // `max_retries`) until a new one is requested.
                throw loginCtrl.rejection
            default: break
            }
            if evictedByTinode { throw TinodeSessionError.evicted }
            if loginCtrl.code >= 500 { throw TinodeSessionError.unavailable(retryAfter: settings.reconnectInitialDelay) }
            throw TinodeSessionError.authenticationFailed(code: Int(loginCtrl.code), text: loginCtrl.text)
        }
        try adoptLogin(from: loginCtrl)

        try await subscribe(topic: "me", on: stream, generation: generation)
        if let room = settings.roomTopic {
            try await subscribe(topic: room, on: stream, generation: generation)
        }
    }

    private func loginMessage(id: String) -> (Pbx_ClientMsg, String) {
        switch login {
        case .token(let token):
            return (ClientMessages.login(id: id, scheme: "token", secret: token), "login")
        case .basic(let name, let password):
            return (ClientMessages.login(id: id, scheme: "basic", secret: Data("\(name):\(password)".utf8)), "login")
        case .register(let name, let password, let displayName, let email):
            return (ClientMessages.register(id: id, login: name, password: password, name: displayName, email: email), "acc")
        case .rest(let token):
            return (ClientMessages.login(id: id, scheme: "rest", secret: Data(token.utf8)), "login")
        case .answeringCode(let name, let password, let email, let code):
            return (
                ClientMessages.loginAnsweringCode(id: id, secret: Data("\(name):\(password)".utf8), email: email, code: code), "login"
            )
        }
    }

    /// Takes the user id and the fresh token from a login answer; from now on the session logs in
    /// again by token (the password is not kept).
    private func adoptLogin(from ctrl: Pbx_ServerCtrl) throws {
        guard let user = ctrl.stringParam("user"), let tokenText = ctrl.stringParam("token"),
            let token = Data(base64Encoded: tokenText)
        else { throw TinodeSessionError.protocolViolation("login answer without user or token") }
        if let known = identity?.userID, known != user {
            throw TinodeSessionError.protocolViolation("login answered for another user")
        }
        identity = Identity(userID: user, token: token, tokenExpires: Self.expiry(ctrl))
        login = .token(token)
        logger[metadataKey: "user"] = "\(user)"
    }

    /// The `expires` param of a login answer (RFC 3339 with fractional seconds).
    static func expiry(_ ctrl: Pbx_ServerCtrl) -> Date? {
        ctrl.stringParam("expires").flatMap { try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse($0) }
    }

    /// Joins a topic; for the room also reads its description to learn its current seq.
    private func subscribe(topic: String, on stream: TinodeStream, generation: Int) async throws {
        let isRoom = topic == settings.roomTopic
        let id = nextRequestID()
        let reply = try await perform(
            ClientMessages.subscribe(id: id, topic: topic, getDescription: isRoom), id: id, kind: "sub",
            expectation: isRoom ? .subscriptionWithDescription : .ctrl, on: stream, generation: generation)
        guard let ctrl = reply.ctrl else { throw TinodeSessionError.protocolViolation("sub without ctrl") }
        guard ctrl.isSuccess || ctrl.code == 304 else { throw ctrl.rejection }
        guard isRoom else { return }
        var seq = reply.meta.map { Int($0.desc.seqID) }
        if seq == nil {
            // 304 `already subscribed` comes without the description: ask for it.
            let descID = nextRequestID()
            let desc = try await perform(
                ClientMessages.getDescription(id: descID, topic: topic), id: descID, kind: "get", expectation: .meta, on: stream,
                generation: generation)
            seq = desc.meta.map { Int($0.desc.seqID) }
        }
        guard let seq else { return }
        roomSeqAtJoin = seq
        sequence.start(at: seq)
        if let last = sequence.lastDelivered, seq > last { needsCatchUp = true }
    }

    private func connectFailed(generation: Int, failure: TinodeSessionError) {
        let outcome = connection.handshakeFailed(
            generation: generation, failure: failure, now: .now, subscribers: feed.subscriberCount > 0, jitter: Self.jitter())
        switch outcome {
        case .alreadyClosed(let waiters):
            for waiter in waiters { waiter.resume(throwing: failure) }
        case .close(let waiters):
            for waiter in waiters { waiter.resume(throwing: failure) }
            failAllPending(with: failure)
            endClosedSession(stream: nil)
        case .backOff(let waiters, let delay, let reconnect):
            for waiter in waiters { waiter.resume(throwing: failure) }
            failAllPending(with: failure)
            if reconnect { scheduleReconnect(after: delay) }
        }
    }

    /// +-20 %, so that sessions that failed together do not all come back together.
    private static func jitter() -> Double { Double.random(in: 0.8...1.2) }

    /// Reconnects in the background, for live subscribers who wait for messages, not for requests.
    private func scheduleReconnect(after delay: Duration) {
        tasks.spawn { [weak self] in
            try? await Task.sleep(for: delay)
            await self?.reconnectForSubscribers()
        }
    }

    private func reconnectForSubscribers() async {
        guard feed.subscriberCount > 0, connection.reconnectDue(now: .now) else { return }
        _ = try? await readyStream()
    }

    // MARK: - Stream events

    /// Reads a stream's messages on the actor: the iterator resumes here directly, so a message costs
    /// no extra hop between the gRPC reader and the session.
    private func consume(_ messages: TinodeInbound, generation: Int) async throws {
        for try await message in messages {
            received(message, generation: generation)
        }
    }

    private func received(_ message: Pbx_ServerMsg, generation: Int) {
        guard generation == connection.generation else { return }
        lastHeard = .now
        if case .ctrl(let ctrl) = message.message, ctrl.id.isEmpty {
            receivedUnaddressed(ctrl, generation: generation)
            return
        }
        if let completion = requests.receive(message) { resume(completion) }
        switch message.message {
        case .data(let data):
            receivedData(data)
        case .pres(let presence):
            feed.publish(
                .presence(
                    topic: presence.topic, what: "\(presence.what)", source: presence.src, seq: Int(presence.seqID)))
        case .ctrl, .meta, .info, .none:
            break
        }
    }

    /// Replies with no id: 205 (evicted, server shutdown) ends the session on Tinode's side and leaves
    /// the stream half-dead; 400/403 for a malformed message or a bad `extra` cannot be tied to a
    /// request (we never send `extra`), so the only request still waiting for its first reply fails,
    /// if exactly one does; otherwise they run into their timeouts.
    private func receivedUnaddressed(_ ctrl: Pbx_ServerCtrl, generation: Int) {
        metrics.unaddressedReplies.increment()
        if ctrl.code == 205 {
            logger.notice("Tinode ended the session", metadata: ["code": "\(ctrl.code)", "text": "\(ctrl.text)"])
            metrics.evictions.increment()
            evictedByTinode = ctrl.text == "evicted"
            streamBroke(generation: generation, because: .unavailable(retryAfter: settings.reconnectInitialDelay))
            return
        }
        logger.warning("Tinode reply without id", metadata: ["code": "\(ctrl.code)", "text": "\(ctrl.text)"])
        if let completion = requests.receiveUnaddressed(ctrl, generation: generation) { resume(completion) }
    }

    private func receivedData(_ data: Pbx_ServerData) {
        let message = ChatMessage(data)
        // Only our own messages have a `pub` waiting for their time; in a busy room that is a small
        // share of what arrives.
        if data.fromUserID == identity?.userID { rememberEcho(of: message) }
        if data.topic == settings.roomTopic {
            deliver(sequence.accept(message))
            if sequence.hasHole { startCatchUp() }
        } else {
            // Other topics (p2p, other groups) have no ordering guarantee to keep: pass them on.
            feed.publish(.message(message))
        }
    }

    private func deliver(_ messages: [ChatMessage]) {
        for message in messages { feed.publish(.message(message)) }
    }

    private func streamEnded(generation: Int, error: (any Error)?) {
        guard generation == connection.generation else { return }
        switch connection.phase {
        case .closed, .idle, .backingOff:
            return
        case .connecting, .ready:
            metrics.streamsLost.increment()
            if let lost = error as? TinodeLinkError, case .connectionLost = lost {
                // The link logs a lost connection once, with its cause; a line per user would bury it.
                logger.debug("Tinode stream ended", metadata: ["error": "\(lost)"])
            } else if let error, !(error is CancellationError) {
                logger.info("Tinode stream ended", metadata: ["error": "\(error)"])
            } else {
                logger.info("Tinode stream ended")
            }
            streamBroke(generation: generation, because: .unavailable(retryAfter: settings.reconnectInitialDelay))
        }
    }

    /// The stream is unusable: fail what waits on it, drop it, and reconnect now when live subscribers
    /// wait (requests reconnect on demand).
    private func streamBroke(generation: Int, because failure: TinodeSessionError) {
        guard
            let broken = connection.streamBroke(generation: generation, subscribers: feed.subscriberCount > 0, jitter: Self.jitter())
        else { return }
        broken.stream.cancel()
        for waiter in broken.waiters { waiter.resume(throwing: failure) }
        failAllPending(with: failure)
        catchingUp = false
        if let delay = broken.reconnectAfter { scheduleReconnect(after: delay) }
    }

    // MARK: - Heartbeat

    private func superviseHeartbeat(generation: Int) async {
        while true {
            guard connection.ready?.generation == generation else { return }
            let due = lastHeard + settings.heartbeatInterval
            if ContinuousClock.now < due {
                do { try await Task.sleep(until: due, clock: .continuous) } catch { return }
                continue
            }
            let probing = heartbeatInFlight
            do { try await heartbeat() } catch { return }
            // When a probe (after a request timeout) was already in flight, `heartbeat()` returned at
            // once without waiting for it: wait for its answer rather than looping on the actor.
            if probing {
                do { try await Task.sleep(for: settings.requestTimeout) } catch { return }
            }
        }
    }

    // MARK: - Catching up after a gap

    /// Fetches the room's messages after the last delivered one, oldest window first, so that the
    /// live feed has no gap; seqs a fetch does not return are gone (deleted) and are skipped.
    private func startCatchUp() {
        guard !catchingUp, connection.ready != nil else { return }
        catchingUp = true
        tasks.spawn { [weak self] in await self?.catchUp() }
    }

    private func catchUp() async {
        defer {
            catchingUp = false
            needsCatchUp = false
        }
        guard let room = settings.roomTopic else { return }
        while let (stream, generation) = connection.ready {
            guard let last = sequence.lastDelivered else { return }
            let target = max(sequence.highestSeen ?? last, roomSeqAtJoin ?? last)
            guard target > last else { return }
            let windowEnd = min(target, last + settings.catchUpPageSize)
            do {
                let page = try await fetchData(
                    topic: room, since: last + 1, before: windowEnd + 1, limit: settings.catchUpPageSize, on: stream,
                    generation: generation)
                // The page's messages went through `receivedData` already; what is still missing in
                // the window no longer exists.
                _ = page
                deliver(sequence.skip(through: windowEnd))
            } catch {
                logger.info("catching up failed", metadata: ["error": "\(error)"])
                return
            }
        }
    }

    // MARK: - Requests

    private func requireRoom() throws -> String {
        guard let room = settings.roomTopic else { throw TinodeSessionError.protocolViolation("no chat room configured") }
        return room
    }

    private func nextRequestID() -> String {
        requests.nextID()
    }

    private func fetchData(
        topic: String, since: Int?, before: Int?, limit: Int, on stream: TinodeStream, generation: Int
    ) async throws -> [ChatMessage] {
        let id = nextRequestID()
        let reply = try await perform(
            ClientMessages.getData(id: id, topic: topic, since: since, before: before, limit: limit), id: id, kind: "get",
            expectation: .dataPage(topic: topic), on: stream, generation: generation)
        if let ctrl = reply.ctrl, !ctrl.isSuccess { throw ctrl.rejection }
        // Live messages of the topic may have arrived during the fetch: keep the requested range.
        var seen = Set<Int>()
        let messages = reply.data.map(ChatMessage.init).filter { message in
            (since.map { message.seq >= $0 } ?? true) && (before.map { message.seq < $0 } ?? true) && seen.insert(message.seq).inserted
        }
        return Array(messages.sorted { $0.seq > $1.seq }.prefix(limit))
    }

    /// Sends a request and waits for its reply, at most `requestTimeout` (an event-loop timer). A
    /// reply after the timeout finds no pending entry and is dropped; a cancelled caller stops
    /// waiting at once.
    private func perform(
        _ message: Pbx_ClientMsg, id: String, kind: String, expectation: ReplyExpectation, on stream: TinodeStream,
        generation: Int
    ) async throws -> Reply {
        let start = ContinuousClock.now
        let timeout = Self.timeAmount(settings.requestTimeout)
        let reply = try await withTaskCancellationHandler {
            // Registered and sent in one step on the actor: the reply cannot overtake the waiter.
            try await withCheckedThrowingContinuation { continuation in
                let deadline = timers.scheduleTask(in: timeout) { [weak self] () -> Void in
                    Task { await self?.abandon(id, reason: .timeout) }
                }
                requests.register(
                    id, kind: kind, expectation: expectation, generation: generation,
                    waiter: RequestWaiter(continuation: continuation, deadline: deadline))
                if !stream.send(message) {
                    _ = requests.remove(id)
                    deadline.cancel()
                    continuation.resume(throwing: TinodeSessionError.unavailable(retryAfter: settings.reconnectInitialDelay))
                }
            }
        } onCancel: {
            Task { [weak self] in await self?.abandon(id, reason: nil) }
        }
        metrics.recordLatency(kind: kind, since: start)
        return reply
    }

    private func resume(_ completion: RequestCorrelation<RequestWaiter>.Completion) {
        completion.waiter.deadline.cancel()
        completion.waiter.continuation.resume(returning: completion.reply)
    }

    /// Ends a request that got no (complete) reply: `.timeout`, or cancellation when `reason` is nil.
    private func abandon(_ id: String, reason: TinodeSessionError?) {
        guard let request = requests.remove(id) else { return }
        request.waiter.deadline.cancel()
        guard let reason else {
            request.waiter.continuation.resume(throwing: CancellationError())
            return
        }
        metrics.timeouts.increment()
        logger.info("Tinode request timed out", metadata: ["kind": "\(request.kind)", "id": "\(id)"])
        request.waiter.continuation.resume(throwing: reason)
        // No answer in time may mean a silent stream: probe it now rather than at the next beat.
        if let ready = connection.ready, request.kind != "heartbeat", request.generation == ready.generation {
            tasks.spawn { [weak self] in try? await self?.heartbeat() }
        }
    }

    private func failAllPending(with failure: TinodeSessionError) {
        for waiter in requests.removeAll() {
            waiter.deadline.cancel()
            waiter.continuation.resume(throwing: failure)
        }
    }

    /// A `Duration` as NIO's timers take it.
    static func timeAmount(_ duration: Duration) -> TimeAmount {
        let (seconds, attoseconds) = duration.components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    // MARK: - Publish receipts

    private func rememberEcho(of message: ChatMessage) {
        let key = MessageKey(topic: message.topic, seq: message.seq)
        if echoTimes.updateValue(message.timestamp, forKey: key) == nil {
            echoOrder.append(key)
            // Forget the oldest half at once: amortised, instead of shifting the array on every message.
            if echoOrder.count > 512 {
                for old in echoOrder.prefix(256) { echoTimes.removeValue(forKey: old) }
                echoOrder.removeFirst(256)
            }
        }
        if let waiter = echoWaiters.removeValue(forKey: key) {
            waiter.deadline.cancel()
            waiter.continuation.resume(returning: message.timestamp)
        }
    }

    private func echoTime(of key: MessageKey) async -> Date? {
        if let time = echoTimes[key] { return time }
        if connection.isClosed { return nil }
        let wait = Self.timeAmount(settings.echoWait)
        return await withCheckedContinuation { continuation in
            let deadline = timers.scheduleTask(in: wait) { [weak self] () -> Void in
                Task { await self?.resumeEchoWaiter(key) }
            }
            if let earlier = echoWaiters.updateValue((continuation, deadline), forKey: key) {
                earlier.deadline.cancel()
                earlier.continuation.resume(returning: nil)
            }
        }
    }

    private func resumeEchoWaiter(_ key: MessageKey) {
        guard let waiter = echoWaiters.removeValue(forKey: key) else { return }
        waiter.deadline.cancel()
        waiter.continuation.resume(returning: echoTimes[key])
    }

    private func resumeEchoWaiters() {
        let waiters = echoWaiters
        echoWaiters.removeAll()
        for waiter in waiters.values {
            waiter.deadline.cancel()
            waiter.continuation.resume(returning: nil)
        }
    }
}
