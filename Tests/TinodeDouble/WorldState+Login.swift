import Foundation
import TinodeProto

/// `{login}` with the basic and token schemes (fixture c), and the token every login hands out. When
/// a required credential is not validated (fixture i) the answer is 300 and the stream stays
/// unauthenticated, so it may log in again. The `rest` scheme is handed to `World` here, because its
/// server is called outside the lock (WorldState+RESTLogin.swift).
extension WorldState {
    mutating func login(_ login: Pbx_ClientLogin, _ request: RequestContext) {
        let sessionID = request.sessionID
        // A stream never switches users.
        guard sessions[sessionID]!.userID == nil else {
            return reply(ServerMessage.ctrl(.alreadyAuthenticated, id: login.id), request)
        }
        let user: String
        let level: AuthLevel
        var presented: (token: Data, expiresAtSeconds: Int64)?
        // Tinode looks the scheme up ignoring case.
        switch login.scheme.lowercased() {
        case "basic":
            guard let (name, password) = BasicLoginPolicy.split(secret: login.secret) else {
                return reply(ServerMessage.ctrl(.malformed, id: login.id), request)
            }
            guard let id = userIDsByLogin[name], let record = users[id], !record.isDeleted, record.password == password else {
                return reply(ServerMessage.ctrl(.authenticationFailed, id: login.id), request)
            }
            user = id
            level = record.isRoot ? .root : .authenticated
        case "token":
            switch tokens.check(login.secret, nowMillis: request.now) {
            case .malformed:
                return reply(ServerMessage.ctrl(.malformed, id: login.id), request)
            case .rejected:
                return reply(ServerMessage.ctrl(.authenticationFailed, id: login.id), request)
            case .valid(let number, let tokenLevel, let expiresAtSeconds):
                let id = TinodeID.userName(number)
                guard let record = users[id], !record.isDeleted else {
                    return reply(ServerMessage.ctrl(.authenticationFailed, id: login.id), request)
                }
                user = id
                level = tokenLevel
                presented = (login.secret.prefix(TokenMint.length), expiresAtSeconds)
            }
        case "rest" where options.restAuth != nil:
            pendingRESTLogin = PendingRESTLogin(login: login, request: request, remoteAddress: sessions[sessionID]!.remoteAddress)
            return
        default:
            return reply(ServerMessage.ctrl(.unknownScheme, id: login.id), request)
        }
        completeLogin(login, user: user, level: level, presented: presented, request)
    }

    /// The end of every login once its scheme has named the user: unless `checksCredentials` is
    /// false (a REST answer with the `V` feature), required credentials are checked (300 until
    /// validated), then the stream is logged in. `presented` is the token a token login presented.
    mutating func completeLogin(
        _ login: Pbx_ClientLogin, user: String, level: AuthLevel, presented: (token: Data, expiresAtSeconds: Int64)? = nil,
        checksCredentials: Bool = true, _ request: RequestContext
    ) {
        let missing: [String]
        if checksCredentials {
            guard let stillMissing = missingCredentials(of: user, answering: login.cred) else {
                return reply(ServerMessage.ctrl(.policyViolation, id: login.id), request)
            }
            missing = stillMissing
        } else {
            missing = []
        }
        guard missing.isEmpty else {
            var params = ["user": GoJSON.string(user), "authlvl": GoJSON.string(level.name), "cred": GoJSON.stringArray(missing)]
            if let presented {
                // A token cannot get past validation: it comes back unchanged, with its own expiry,
                // which Tinode showed one millisecond past the token's whole second (fixture i).
                params["token"] = GoJSON.string(presented.token.base64EncodedString())
                params["expires"] = GoJSON.time(millis: presented.expiresAtSeconds * 1000 + 1)
            } else {
                params.merge(loginParams(user: user, level: level, now: request.now, validated: false)) { old, _ in old }
            }
            return reply(ServerMessage.ctrl(.validateCredentials, id: login.id, params: params), request)
        }
        authenticate(request.sessionID, as: user, level: level)
        reply(ServerMessage.ctrl(.ok, id: login.id, params: loginParams(user: user, level: level, now: request.now)), request)
    }

    /// `user`, `authlvl`, and a fresh full-lifetime token with its expiry; `validated` is false for
    /// the token of a 300 "validate credentials".
    func loginParams(user: String, level: AuthLevel, now: Int64, validated: Bool = true) -> [String: Data] {
        let expires = now + options.tokenLifetime.milliseconds
        let token = tokens.issue(user: TinodeID.userNumber(user)!, level: level, expiresAtMillis: expires, validated: validated)
        return [
            "user": GoJSON.string(user),
            "authlvl": GoJSON.string(level.name),
            "token": GoJSON.string(token.base64EncodedString()),
            "expires": GoJSON.time(millis: expires),
        ]
    }
}
