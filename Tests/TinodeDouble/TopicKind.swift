/// What a topic name in a client message refers to.
enum TopicKind: Equatable {
    case me
    case find
    /// `new` or `newXXX`: create a group.
    case newGroup
    case group
    /// `usr...`: the p2p topic with that user.
    case p2p
    /// Channels (`chn...`, `nch...`), `sys`, `slf`, internal `p2p...` names: real in Tinode, not in the double.
    case unsupported
    case empty
    /// Any other name: no such topic.
    case unknown

    init(_ name: String) {
        switch name {
        case "": self = .empty
        case "me": self = .me
        case "fnd": self = .find
        case "sys", "slf": self = .unsupported
        default:
            if name.hasPrefix("new") {
                self = .newGroup
            } else if name.hasPrefix("grp") {
                self = .group
            } else if name.hasPrefix("usr") {
                self = .p2p
            } else if name.hasPrefix("chn") || name.hasPrefix("nch") || name.hasPrefix("p2p") {
                self = .unsupported
            } else {
                self = .unknown
            }
        }
    }
}
