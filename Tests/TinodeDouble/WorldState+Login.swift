import Foundation
import TinodeProto

/// `{login}` with the basic and token schemes (fixture c), and the token every login hands out.
extension WorldState {
    mutating func login(_ login: Pbx_ClientLogin, _ request: RequestContext) {
        let sessionID = request.sessionID
        // A stream never switches users.
        guard sessions[sessionID]!.userID == nil else {
            return reply(ServerMessage.ctrl(.alreadyAuthenticated, id: login.id), request)
        }
        let user: String
        let level: AuthLevel
        switch login.scheme {
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
            case .valid(let number, let tokenLevel):
                let id = TinodeID.userName(number)
                guard let record = users[id], !record.isDeleted else {
                    return reply(ServerMessage.ctrl(.authenticationFailed, id: login.id), request)
                }
                user = id
                level = tokenLevel
            }
        default:
            return reply(ServerMessage.ctrl(.unknownScheme, id: login.id), request)
        }
        authenticate(sessionID, as: user, level: level)
        reply(ServerMessage.ctrl(.ok, id: login.id, params: loginParams(user: user, level: level, now: request.now)), request)
    }

    /// `user`, `authlvl`, and a fresh full-lifetime token with its expiry.
    func loginParams(user: String, level: AuthLevel, now: Int64) -> [String: Data] {
        let expires = now + options.tokenLifetime.milliseconds
        let token = tokens.issue(user: TinodeID.userNumber(user)!, level: level, expiresAtMillis: expires)
        return [
            "user": GoJSON.string(user),
            "authlvl": GoJSON.string(level.name),
            "token": GoJSON.string(token.base64EncodedString()),
            "expires": GoJSON.time(millis: expires),
        ]
    }
}
