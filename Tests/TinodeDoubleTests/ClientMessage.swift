import Foundation
import TinodeProto

/// Client messages for the focused tests, built the way a Tinode client sends them.
enum ClientMessage {
    static func hi(_ id: String = "hi", ver: String = "0.25", deviceID: String = "") -> Pbx_ClientMsg {
        var hi = Pbx_ClientHi()
        hi.id = id
        hi.ver = ver
        hi.userAgent = "TinodeDoubleTests/1.0"
        hi.deviceID = deviceID
        var message = Pbx_ClientMsg()
        message.hi = hi
        return message
    }

    static func createAccount(
        _ id: String, login: String, password: String, signIn: Bool = true, publicJSON: String? = nil, tags: [String] = []
    ) -> Pbx_ClientMsg {
        var acc = Pbx_ClientAcc()
        acc.id = id
        acc.userID = "new"
        acc.scheme = "basic"
        acc.secret = Data("\(login):\(password)".utf8)
        acc.login = signIn
        acc.tags = tags
        if let publicJSON { acc.desc.public = Data(publicJSON.utf8) }
        var message = Pbx_ClientMsg()
        message.acc = acc
        return message
    }

    static func login(_ id: String, scheme: String, secret: Data) -> Pbx_ClientMsg {
        var login = Pbx_ClientLogin()
        login.id = id
        login.scheme = scheme
        login.secret = secret
        var message = Pbx_ClientMsg()
        message.login = login
        return message
    }

    static func login(_ id: String, basic name: String, password: String) -> Pbx_ClientMsg {
        login(id, scheme: "basic", secret: Data("\(name):\(password)".utf8))
    }

    static func sub(_ id: String, topic: String, what: String? = nil) -> Pbx_ClientMsg {
        var sub = Pbx_ClientSub()
        sub.id = id
        sub.topic = topic
        if let what { sub.getQuery.what = what }
        var message = Pbx_ClientMsg()
        message.sub = sub
        return message
    }

    /// `content` is JSON text: a plain text message is `"\"hello\""`.
    static func pub(_ id: String, topic: String, content: String, noEcho: Bool = false) -> Pbx_ClientMsg {
        var pub = Pbx_ClientPub()
        pub.id = id
        pub.topic = topic
        pub.content = Data(content.utf8)
        pub.noEcho = noEcho
        var message = Pbx_ClientMsg()
        message.pub = pub
        return message
    }

    static func get(_ id: String, topic: String, what: String, data: Pbx_GetOpts? = nil) -> Pbx_ClientMsg {
        var get = Pbx_ClientGet()
        get.id = id
        get.topic = topic
        get.query.what = what
        if let data { get.query.data = data }
        var message = Pbx_ClientMsg()
        message.get = get
        return message
    }

    static func leave(_ id: String, topic: String, unsub: Bool = false) -> Pbx_ClientMsg {
        var leave = Pbx_ClientLeave()
        leave.id = id
        leave.topic = topic
        leave.unsub = unsub
        var message = Pbx_ClientMsg()
        message.leave = leave
        return message
    }

    static func setFind(_ id: String, query: String) -> Pbx_ClientMsg {
        var set = Pbx_ClientSet()
        set.id = id
        set.topic = "fnd"
        set.query.desc.public = Data("\"\(query)\"".utf8)
        var message = Pbx_ClientMsg()
        message.set = set
        return message
    }

    static func note(topic: String, what: Pbx_InfoNote, seq: Int32) -> Pbx_ClientMsg {
        var note = Pbx_ClientNote()
        note.topic = topic
        note.what = what
        note.seqID = seq
        var message = Pbx_ClientMsg()
        message.note = note
        return message
    }
}
