import Foundation
import TinodeProto

/// A `rest` login waiting for its REST-auth server's `auth` answer.
struct PendingRESTLogin: Equatable, Sendable {
    let login: Pbx_ClientLogin
    let request: RequestContext
    /// The `addr` of the `auth` request.
    let remoteAddress: String
}

/// An account created for a `rest` login, waiting for the server's `link` answer.
struct PendingRESTLink: Sendable {
    let pending: PendingRESTLogin
    let user: String
    /// The server's `rec` with the new uid, as sent in `link`.
    let record: RESTAuthRecord
    let challenge: Data
    let body: Data
}

/// The state side of `{login scheme:"rest"}` (tinode-protocol.md 1.7 and 1.8; fixtures rest-auth
/// 02, 03, 10 to 27), in the order of Tinode's `Authenticate` and `Session.login`: the answer
/// itself, a new account and its `link`, the account state, a challenge, then required credentials
/// unless the answer says they were validated (`V`), as basic does.
extension WorldState {
    enum RESTLoginStep: Sendable {
        case finished
        /// Tinode created the account; `World` POSTs `link` and comes back to `finishRESTLink`.
        case link(PendingRESTLink)
    }

    /// What the `auth` answer leads to.
    mutating func continueRESTLogin(_ pending: PendingRESTLogin, _ answer: RESTAuthAnswer, now: Int64) -> RESTLoginStep {
        let request = RequestContext(sessionID: pending.request.sessionID, dropsReplies: pending.request.dropsReplies, now: now)
        defer { settle(now: now) }
        let id = pending.login.id
        // The stream ended while the server was thinking: nobody is left to log in.
        guard sessions[request.sessionID] != nil else { return .finished }
        let response: RESTAuthResponse
        switch answer {
        case .failed:
            reply(ServerMessage.ctrl(.internalError, id: id), request)
            return .finished
        case .rejected(let error):
            reply(ServerMessage.ctrl(CtrlStatus(storeError: error), id: id), request)
            return .finished
        case .accepted(let accepted):
            response = accepted
        }
        // Fixture rest-auth 26: `{}` has no `rec`.
        guard var record = response.record else {
            reply(ServerMessage.ctrl(.internalError, id: id), request)
            return .finished
        }
        guard record.uid == 0 else {
            finishRESTLogin(pending.login, record: record, challenge: response.challenge, request)
            return .finished
        }
        // Tinode would go on with uid 0 and answer 200 with "user":"" to an unauthenticated stream.
        guard options.restAuth?.allowNewAccounts == true else {
            reply(ServerMessage.ctrl(.notImplemented, id: id), request)
            return .finished
        }
        // Fixture rest-auth 27.
        guard let account = response.newAccount else {
            reply(ServerMessage.ctrl(.notFound, id: id), request)
            return .finished
        }
        // The double has no suspended or half-made accounts to create.
        guard Self.isModelled(record), record.state == .ok else {
            reply(ServerMessage.ctrl(.notImplemented, id: id), request)
            return .finished
        }
        let user = newUserID()
        var created = UserRecord(id: user, createdAt: now, updatedAt: now)
        created.publicJSON = account.publicValue.map(GoJSON.encode)
        created.privateJSON = account.privateValue.map(GoJSON.encode)
        created.defaultAccess = DefaultAccess(auth: account.auth, anon: account.anon)
        // Verbatim: Tinode neither normalises nor checks these tags (1.8 step 3).
        created.tags = record.tags ?? []
        users[user] = created
        record.uid = TinodeID.userNumber(user)!
        let body = RESTAuthRequest.body(endpoint: "link", record: record, secret: pending.login.secret)
        return .link(PendingRESTLink(pending: pending, user: user, record: record, challenge: response.challenge, body: body))
    }

    /// After `link`: any failure hard-deletes the new account and fails the login (1.8 step 4).
    mutating func finishRESTLink(_ link: PendingRESTLink, _ answer: RESTAuthAnswer, now: Int64) {
        let request = RequestContext(sessionID: link.pending.request.sessionID, dropsReplies: link.pending.request.dropsReplies, now: now)
        defer { settle(now: now) }
        switch answer {
        case .accepted:
            finishRESTLogin(link.pending.login, record: link.record, challenge: link.challenge, request)
        case .failed:
            users[link.user] = nil
            reply(ServerMessage.ctrl(.internalError, id: link.pending.login.id), request)
        case .rejected(let error):
            users[link.user] = nil
            reply(ServerMessage.ctrl(CtrlStatus(storeError: error), id: link.pending.login.id), request)
        }
    }

    /// The account state, a challenge, then `completeLogin` as for basic (1.7 steps 2 to 5).
    private mutating func finishRESTLogin(_ login: Pbx_ClientLogin, record: RESTAuthRecord, challenge: Data, _ request: RequestContext) {
        guard sessions[request.sessionID] != nil else { return }
        let user = TinodeID.userName(record.uid)
        let exists = users[user].map { !$0.isDeleted } ?? false
        switch record.state {
        case .undefined:
            // Tinode reads the state from its database; the double's accounts are all "ok".
            guard exists else { return reply(ServerMessage.ctrl(.userNotFound, id: login.id), request) }
        case .ok:
            // Tinode would trust the uid and log in a user it has no row for (#859).
            guard exists else { return reply(ServerMessage.ctrl(.notImplemented, id: login.id), request) }
        case .suspended, .deleted:
            return reply(ServerMessage.ctrl(.permissionDenied, id: login.id), request)
        }
        guard challenge.isEmpty else {
            // Go writes the bytes as standard base64; the stream stays unauthenticated.
            let params = ["challenge": GoJSON.string(challenge.base64EncodedString())]
            return reply(ServerMessage.ctrl(.challenge, id: login.id, params: params), request)
        }
        guard Self.isModelled(record) else { return reply(ServerMessage.ctrl(.notImplemented, id: login.id), request) }
        // Tinode requires validation per level; `acc_validation.email.required` names "auth" only.
        let checksCredentials = record.features & RESTAuthRecord.validatedFeature == 0 && record.level == .authenticated
        completeLogin(login, user: user, level: record.level, checksCredentials: checksCredentials, request)
    }

    /// Levels "auth" and "root" without the `L` feature: the double has no sessions with a lower
    /// level, and its tokens carry no `L`.
    private static func isModelled(_ record: RESTAuthRecord) -> Bool {
        (record.level == .authenticated || record.level == .root) && record.features & RESTAuthRecord.noLoginFeature == 0
    }
}
