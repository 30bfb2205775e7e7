/// A Gateway access token with its hash worked out once: the look-up of a request and, after a miss,
/// the insertion of what it found hash the token's bytes once between them.
public struct AccessTokenKey: Hashable, Sendable {
    public let token: String
    private let hash: Int

    public init(_ token: String) {
        self.token = token
        hash = token.hashValue
    }

    public static func == (lhs: AccessTokenKey, rhs: AccessTokenKey) -> Bool {
        lhs.hash == rhs.hash && lhs.token == rhs.token
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(hash)
    }
}
