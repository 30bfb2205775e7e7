import TinodeProto

extension Pbx_ClientMsg {
    /// The name of the field set in the `oneof`, as the fixtures and `receivedCount(kind:)` use it;
    /// "" for an empty message.
    public var kindName: String {
        switch message {
        case .hi: "hi"
        case .acc: "acc"
        case .login: "login"
        case .sub: "sub"
        case .leave: "leave"
        case .pub: "pub"
        case .get: "get"
        case .set: "set"
        case .del: "del"
        case .note: "note"
        case nil: ""
        }
    }
}

extension Pbx_ClientMsg.OneOf_Message {
    /// The client's id, echoed by error replies that are not specific to a message kind.
    var requestID: String {
        switch self {
        case .hi(let message): message.id
        case .acc(let message): message.id
        case .login(let message): message.id
        case .sub(let message): message.id
        case .leave(let message): message.id
        case .pub(let message): message.id
        case .get(let message): message.id
        case .set(let message): message.id
        case .del(let message): message.id
        case .note: ""
        }
    }

    /// The topic named by the message, echoed by 401 "authentication required".
    var topicName: String {
        switch self {
        case .sub(let message): message.topic
        case .leave(let message): message.topic
        case .pub(let message): message.topic
        case .get(let message): message.topic
        case .set(let message): message.topic
        case .del(let message): message.topic
        case .note(let message): message.topic
        case .hi, .acc, .login: ""
        }
    }
}
