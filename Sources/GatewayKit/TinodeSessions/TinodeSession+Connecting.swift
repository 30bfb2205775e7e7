import Foundation
import Logging
import NIOCore
import SidecarCore
import TinodeProto

/// Opening a stream and logging in: the handshake, and what a failed one leads to (``SessionConnection``).
extension TinodeSession {
    /// The open, logged-in stream; connects when there is none.
    func readyStream() async throws -> (TinodeStream, Int) {
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

    func openAndLogIn(generation: Int) async throws {
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
        scheduleHeartbeat(generation: generation)
        if sequence.hasHole || needsCatchUp { startCatchUp() }
    }

    /// `hi`, login (or registration), `sub me`, `sub <room>` with its description.
    func handshake(on stream: TinodeStream, generation: Int) async throws {
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

    func loginMessage(id: String) -> (Pbx_ClientMsg, String) {
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
    func adoptLogin(from ctrl: Pbx_ServerCtrl) throws {
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
    func subscribe(topic: String, on stream: TinodeStream, generation: Int) async throws {
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

    func connectFailed(generation: Int, failure: TinodeSessionError) {
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
    static func jitter() -> Double { Double.random(in: 0.8...1.2) }

    /// Reconnects in the background, for live subscribers who wait for messages, not for requests.
    func scheduleReconnect(after delay: Duration) {
        tasks.spawn { [weak self] in
            try? await Task.sleep(for: delay)
            await self?.reconnectForSubscribers()
        }
    }

    func reconnectForSubscribers() async {
        guard feed.subscriberCount > 0, connection.reconnectDue(now: .now) else { return }
        _ = try? await readyStream()
    }
}
