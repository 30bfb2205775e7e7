import Foundation
import TinodeProto

/// Reading Tinode's replies: ctrl params are JSON-encoded bytes on gRPC (tinode-protocol.md 3.3).
extension Pbx_ServerCtrl {
    /// A param decoded as a JSON string (`"token"`, `"user"`, `"what"`), nil when absent or not a string.
    func stringParam(_ key: String) -> String? {
        guard let bytes = params[key] else { return nil }
        return try? JSONDecoder().decode(String.self, from: bytes)
    }

    /// A param decoded as a JSON number (`"seq"`, `"count"`).
    func intParam(_ key: String) -> Int? {
        guard let bytes = params[key] else { return nil }
        return try? JSONDecoder().decode(Int.self, from: bytes)
    }

    /// Params as text for error reports: JSON strings unquoted, anything else as its JSON.
    var paramsAsText: [String: String] {
        params.reduce(into: [:]) { result, entry in
            result[entry.key] = stringParam(entry.key) ?? String(decoding: entry.value, as: UTF8.self)
        }
    }

    var isSuccess: Bool { code >= 200 && code < 300 }

    /// The error a non-success ctrl stands for.
    var rejection: TinodeSessionError {
        .rejected(code: Int(code), text: text, params: paramsAsText)
    }
}

extension ChatMessage {
    init(_ data: Pbx_ServerData) {
        self.init(
            topic: data.topic, seq: Int(data.seqID), from: data.fromUserID,
            timestamp: Date(timeIntervalSince1970: TimeInterval(data.timestamp) / 1000),
            content: data.content, head: data.head)
    }
}

/// Builds the client messages the sessions send.
enum ClientMessages {
    static func hi(id: String, version: String, userAgent: String) -> Pbx_ClientMsg {
        var message = Pbx_ClientMsg()
        message.hi = .with {
            $0.id = id
            $0.ver = version
            $0.userAgent = userAgent
        }
        return message
    }

    static func login(id: String, scheme: String, secret: Data) -> Pbx_ClientMsg {
        var message = Pbx_ClientMsg()
        message.login = .with {
            $0.id = id
            $0.scheme = scheme
            $0.secret = secret
        }
        return message
    }

    /// `{login scheme:"basic"}` with the code Tinode mailed as the response to the `email` credential.
    /// Tinode checks responses on every login of an account without a validated credential; it
    /// checks the code against the account's own pending address, whatever `value` says, so the
    /// caller must still check which address the account has validated (its `email:` tag).
    static func loginAnsweringCode(id: String, secret: Data, email: String, code: String) -> Pbx_ClientMsg {
        var message = Pbx_ClientMsg()
        message.login = .with {
            $0.id = id
            $0.scheme = "basic"
            $0.secret = secret
            $0.cred = [
                .with {
                    $0.method = "email"
                    $0.value = email
                    $0.response = code
                }
            ]
        }
        return message
    }

    /// `{acc user:"usr..." tmp_scheme:"token" tmp_secret:<token> cred:[email]}` on a stream that is not
    /// logged in: Tinode authenticates the request with the temporary token (a 300 answer's token
    /// suffices) and mails a new code for the credential, replacing the old one and its count of
    /// wrong answers.
    static func requestCode(id: String, userID: String, token: Data, email: String) -> Pbx_ClientMsg {
        var message = Pbx_ClientMsg()
        message.acc = .with {
            $0.id = id
            $0.userID = userID
            $0.tmpScheme = "token"
            $0.tmpSecret = token
            $0.cred = [
                .with {
                    $0.method = "email"
                    $0.value = email
                }
            ]
        }
        return message
    }

    /// `{acc user:"new" scheme:"basic" login:true}` with the address as an `email` credential: Tinode
    /// refuses `email:` tags from clients (tinode-protocol.md 8).
    static func register(id: String, login: String, password: String, name: String, email: String) -> Pbx_ClientMsg {
        var message = Pbx_ClientMsg()
        message.acc = .with {
            $0.id = id
            $0.userID = "new"
            $0.scheme = "basic"
            $0.secret = Data("\(login):\(password)".utf8)
            $0.login = true
            $0.desc = .with { $0.public = jsonObject(["fn": name]) }
            $0.cred = [
                .with {
                    $0.method = "email"
                    $0.value = email
                }
            ]
        }
        return message
    }

    static func subscribe(id: String, topic: String, getDescription: Bool) -> Pbx_ClientMsg {
        var message = Pbx_ClientMsg()
        message.sub = .with {
            $0.id = id
            $0.topic = topic
            if getDescription { $0.getQuery = .with { $0.what = "desc" } }
        }
        return message
    }

    static func leave(id: String, topic: String, unsubscribe: Bool) -> Pbx_ClientMsg {
        var message = Pbx_ClientMsg()
        message.leave = .with {
            $0.id = id
            $0.topic = topic
            $0.unsub = unsubscribe
        }
        return message
    }

    static func publish(id: String, topic: String, content: Data, head: [String: Data]) -> Pbx_ClientMsg {
        var message = Pbx_ClientMsg()
        message.pub = .with {
            $0.id = id
            $0.topic = topic
            $0.content = content
            $0.head = head
        }
        return message
    }

    /// `{get what:"data"}` for seqs in `[since, before)`, newest first, at most `limit`.
    static func getData(id: String, topic: String, since: Int?, before: Int?, limit: Int) -> Pbx_ClientMsg {
        var message = Pbx_ClientMsg()
        message.get = .with {
            $0.id = id
            $0.topic = topic
            $0.query = .with {
                $0.what = "data"
                $0.data = .with {
                    if let since { $0.sinceID = Int32(clamping: since) }
                    if let before { $0.beforeID = Int32(clamping: before) }
                    $0.limit = Int32(clamping: limit)
                }
            }
        }
        return message
    }

    static func getTags(id: String, topic: String) -> Pbx_ClientMsg {
        var message = Pbx_ClientMsg()
        message.get = .with {
            $0.id = id
            $0.topic = topic
            $0.query = .with { $0.what = "tags" }
        }
        return message
    }

    static func getDescription(id: String, topic: String) -> Pbx_ClientMsg {
        var message = Pbx_ClientMsg()
        message.get = .with {
            $0.id = id
            $0.topic = topic
            $0.query = .with { $0.what = "desc" }
        }
        return message
    }

    static func jsonObject(_ object: [String: String]) -> Data {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
    }
}
