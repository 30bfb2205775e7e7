/// Tinode's authentication levels, with the numbers a token stores and the names `authlvl` shows.
enum AuthLevel: UInt16, Sendable {
    case none = 0
    case anonymous = 10
    case authenticated = 20
    case root = 30

    /// The `authlvl` text of login replies.
    var name: String {
        switch self {
        case .none: ""
        case .anonymous: "anon"
        case .authenticated: "auth"
        case .root: "root"
        }
    }
}
