import Foundation
import TinodeProto

/// `{acc}`: new basic accounts (fixtures b, c, i) and password changes.
extension WorldState {
    mutating func account(_ acc: Pbx_ClientAcc, _ request: RequestContext) {
        if acc.userID.hasPrefix("new") { return createAccount(acc, request) }
        if !acc.tmpScheme.isEmpty { return updateWithTemporaryAuth(acc, request) }
        guard let user = sessions[request.sessionID]!.userID else {
            return reply(ServerMessage.ctrl(.authenticationRequired, id: acc.id), request)
        }
        guard acc.userID.isEmpty || acc.userID == user else {
            return reply(ServerMessage.ctrl(.permissionDenied, id: acc.id), request)
        }
        if acc.scheme == "basic", !acc.secret.isEmpty {
            guard let (login, password) = BasicLoginPolicy.split(secret: acc.secret) else {
                return reply(ServerMessage.ctrl(.malformed, id: acc.id), request)
            }
            // Renaming a login is not modelled: only the password of the same login may change.
            guard login == users[user]?.login else { return reply(ServerMessage.ctrl(.notImplemented, id: acc.id), request) }
            guard BasicLoginPolicy.isAcceptable(password: password, minLength: options.minPasswordLength) else {
                return reply(ServerMessage.ctrl(.policyViolation, id: acc.id), request)
            }
            users[user]!.password = password
            users[user]!.updatedAt = request.now
        }
        reply(ServerMessage.ctrl(.ok, id: acc.id), request)
    }

    /// `{acc user:"usr..." tmp_scheme:"token" tmp_secret:<token> cred:[...]}` on a stream that is not
    /// logged in: Tinode authenticates the request alone with the token, even one from a 300 answer,
    /// and (re)sends the codes of the credentials. The reply is 200 without params: Tinode's code
    /// meant to list still-missing methods tests its error the wrong way round.
    private mutating func updateWithTemporaryAuth(_ acc: Pbx_ClientAcc, _ request: RequestContext) {
        guard sessions[request.sessionID]!.userID == nil else {
            return reply(ServerMessage.ctrl(.alreadyAuthenticated, id: acc.id), request)
        }
        guard acc.tmpScheme == "token" else { return reply(ServerMessage.ctrl(.unknownScheme, id: acc.id), request) }
        let user: String
        switch tokens.check(acc.tmpSecret, nowMillis: request.now) {
        case .malformed:
            return reply(ServerMessage.ctrl(.malformed, id: acc.id, params: ServerMessage.what("auth")), request)
        case .rejected:
            return reply(ServerMessage.ctrl(.authenticationFailed, id: acc.id, params: ServerMessage.what("auth")), request)
        case .valid(let number, _, _):
            user = TinodeID.userName(number)
        }
        guard users[user].map({ !$0.isDeleted }) == true else {
            return reply(ServerMessage.ctrl(.userNotFound, id: acc.id), request)
        }
        guard acc.userID.isEmpty || acc.userID == user else { return reply(ServerMessage.ctrl(.permissionDenied, id: acc.id), request) }
        // Password changes with a temporary token (Tinode's reset flow) are not modelled.
        guard !acc.cred.isEmpty, acc.scheme.isEmpty else { return reply(ServerMessage.ctrl(.notImplemented, id: acc.id), request) }
        for credential in acc.cred { addCredential(credential, to: user, now: request.now) }
        reply(ServerMessage.ctrl(.ok, id: acc.id), request)
    }

    /// The checks in Tinode's order: the secret, the login (422/409, `{"what":"auth"}`), the tags
    /// (403 `{"what":"tags"}`), then what fails only once the user row exists: the password (422,
    /// no params) and the postgres column that holds `basic:<login>` (500).
    private mutating func createAccount(_ acc: Pbx_ClientAcc, _ request: RequestContext) {
        let sessionID = request.sessionID
        guard acc.scheme == "basic" else { return reply(ServerMessage.ctrl(.unknownScheme, id: acc.id), request) }
        if acc.login, sessions[sessionID]!.userID != nil {
            return reply(ServerMessage.ctrl(.alreadyAuthenticated, id: acc.id), request)
        }
        guard let (login, password) = BasicLoginPolicy.split(secret: acc.secret) else {
            return reply(ServerMessage.ctrl(.malformed, id: acc.id), request)
        }
        guard BasicLoginPolicy.isAcceptable(login: login, minLength: options.minLoginLength) else {
            return reply(ServerMessage.ctrl(.policyViolation, id: acc.id, params: ServerMessage.what("auth")), request)
        }
        guard userIDsByLogin[login] == nil else {
            return reply(ServerMessage.ctrl(.duplicateCredential, id: acc.id, params: ServerMessage.what("auth")), request)
        }
        let tags = Tags.normalize(acc.tags)
        guard !tags.contains(where: Tags.isRestricted) else {
            return reply(ServerMessage.ctrl(.permissionDenied, id: acc.id, params: ServerMessage.what("tags")), request)
        }
        // The key is `creds` here, unlike the `cred` of a 300 (fixture i).
        guard coversRequiredCredentials(acc.cred) else {
            return reply(ServerMessage.ctrl(.policyViolation, id: acc.id, params: ["creds": GoJSON.stringArray(["email"])]), request)
        }
        guard BasicLoginPolicy.isAcceptable(password: password, minLength: options.minPasswordLength) else {
            return reply(ServerMessage.ctrl(.policyViolation, id: acc.id), request)
        }
        guard login.unicodeScalars.count <= options.maxStoredLoginLength else {
            return reply(ServerMessage.ctrl(.internalError, id: acc.id), request)
        }

        let user = addUser(login: login, password: password, now: request.now) { record in
            if acc.hasDesc {
                record.publicJSON = GoJSON.reencode(acc.desc.public)
                record.privateJSON = GoJSON.reencode(acc.desc.private)
                if acc.desc.hasDefaultAcs {
                    let defaults = record.defaultAccess
                    let auth = acc.desc.defaultAcs.auth, anon = acc.desc.defaultAcs.anon
                    record.defaultAccess = DefaultAccess(
                        auth: auth.isEmpty ? defaults.auth : AccessMode(auth), anon: anon.isEmpty ? defaults.anon : AccessMode(anon))
                }
            }
            record.tags += tags.filter { !record.tags.contains($0) }
        }
        for credential in acc.cred { addCredential(credential, to: user, now: request.now) }

        var params: [String: Data] = [
            "user": GoJSON.string(user),
            "authlvl": GoJSON.string(AuthLevel.authenticated.name),
            "desc": accountDescription(user),
        ]
        guard acc.login else { return reply(ServerMessage.ctrl(.created, id: acc.id, params: params), request) }
        let missing = missingCredentials(of: user, answering: acc.cred) ?? ["email"]
        guard missing.isEmpty else {
            // The account exists, but the stream is not logged in (fixture i).
            params["cred"] = GoJSON.stringArray(missing)
            params.merge(loginParams(user: user, level: .authenticated, now: request.now, validated: false)) { old, _ in old }
            return reply(ServerMessage.ctrl(.validateCredentials, id: acc.id, params: params), request)
        }
        authenticate(sessionID, as: user, level: .authenticated)
        params.merge(loginParams(user: user, level: .authenticated, now: request.now)) { _, new in new }
        reply(ServerMessage.ctrl(.ok, id: acc.id, params: params), request)
    }

    /// Creates a basic account (tag `basic:<login>`, like basic's `add_to_tags`); the caller has
    /// checked the login and password.
    mutating func addUser(login: String, password: String, now: Int64, _ configure: (inout UserRecord) -> Void = { _ in }) -> String {
        let user = newUserID()
        var record = UserRecord(id: user, login: login, password: password, createdAt: now, updatedAt: now)
        record.tags = ["basic:" + login]
        configure(&record)
        users[user] = record
        userIDsByLogin[login] = user
        return user
    }

    /// The `desc` parameter of `{acc}` replies: a Go struct, so its keys keep this order.
    private func accountDescription(_ user: String) -> Data {
        let record = users[user]!
        var members: [(String, Data)] = [
            ("created", GoJSON.time(millis: record.createdAt)),
            ("updated", GoJSON.time(millis: record.updatedAt)),
            (
                "defacs",
                GoJSON.object([
                    ("auth", GoJSON.string(record.defaultAccess.auth.text)), ("anon", GoJSON.string(record.defaultAccess.anon.text)),
                ])
            ),
        ]
        if let publicJSON = record.publicJSON { members.append(("public", publicJSON)) }
        if let privateJSON = record.privateJSON { members.append(("private", privateJSON)) }
        return GoJSON.object(members)
    }
}
