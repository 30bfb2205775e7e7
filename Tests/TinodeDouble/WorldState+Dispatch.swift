import TinodeProto

/// Entry point for client messages: counting, the fault knob that drops replies, and the checks
/// Tinode makes before any handler runs (obo, `hi` first, login required).
extension WorldState {
    enum ReceiveOutcome: Equatable, Sendable {
        case handled
        /// The session is half-dead: end the call with status OK and no reply.
        case endCall
        /// A `rest` login waits for the REST-auth server, which is called outside the lock.
        case awaitsRESTAuth(PendingRESTLogin)
    }

    mutating func receive(_ message: Pbx_ClientMsg, on sessionID: Int, now: Int64) -> ReceiveOutcome {
        guard let session = sessions[sessionID] else { return .endCall }
        let kind = message.kindName
        receivedCounts[kind, default: 0] += 1
        if session.isHalfDead { return .endCall }
        var dropsReplies = false
        if let remaining = faults.droppedReplies[kind], remaining > 0 {
            faults.droppedReplies[kind] = remaining - 1
            dropsReplies = true
        }
        dispatch(message, RequestContext(sessionID: sessionID, dropsReplies: dropsReplies, now: now))
        settle(now: now)
        if let pending = pendingRESTLogin {
            pendingRESTLogin = nil
            return .awaitsRESTAuth(pending)
        }
        return .handled
    }

    private mutating func dispatch(_ message: Pbx_ClientMsg, _ request: RequestContext) {
        let session = sessions[request.sessionID]!
        if message.hasExtra, !message.extra.onBehalfOf.isEmpty || message.extra.authLevel != .none {
            // Only root may act for others; the refusal carries no id (fixture g).
            guard session.authLevel == .root else { return reply(ServerMessage.ctrl(.permissionDenied, id: ""), request) }
            guard message.extra.onBehalfOf.isEmpty || TinodeID.userNumber(message.extra.onBehalfOf) != nil else {
                return reply(ServerMessage.ctrl(.malformed, id: ""), request)
            }
            // Acting for another user is not modelled; say so instead of pretending.
            return reply(ServerMessage.ctrl(.notImplemented, id: ""), request)
        }
        guard let body = message.message else {
            return reply(ServerMessage.ctrl(.malformed, id: ""), request)
        }
        switch body {
        case .hi(let hi): hello(hi, request)
        case .note(let note): self.note(note, request)
        case .login(let login): if requireHello(body, request) { self.login(login, request) }
        case .acc(let acc): if requireHello(body, request) { account(acc, request) }
        case .sub(let sub): if let user = requireUser(body, request) { subscribe(sub, request, user: user) }
        case .leave(let leave): if let user = requireUser(body, request) { self.leave(leave, request, user: user) }
        case .pub(let pub): if let user = requireUser(body, request) { publish(pub, request, user: user) }
        case .get(let get): if let user = requireUser(body, request) { self.get(get, request, user: user) }
        case .set(let set): if let user = requireUser(body, request) { self.set(set, request, user: user) }
        case .del(let del): if let user = requireUser(body, request) { delete(del, request, user: user) }
        }
    }

    /// Anything but hi/note before a successful hi: 409 with the id and no topic (fixture a).
    private mutating func requireHello(_ body: Pbx_ClientMsg.OneOf_Message, _ request: RequestContext) -> Bool {
        guard sessions[request.sessionID]!.version == 0 else { return true }
        reply(ServerMessage.ctrl(.outOfSequence, id: body.requestID), request)
        return false
    }

    private mutating func requireUser(_ body: Pbx_ClientMsg.OneOf_Message, _ request: RequestContext) -> String? {
        guard requireHello(body, request) else { return nil }
        if let user = sessions[request.sessionID]!.userID { return user }
        reply(ServerMessage.ctrl(.authenticationRequired, id: body.requestID, topic: body.topicName), request)
        return nil
    }
}
