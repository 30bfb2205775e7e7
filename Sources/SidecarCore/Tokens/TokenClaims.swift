import Foundation
import JWTKit

/// Which kind of token a JWT is. Carried in the `token_use` claim so that a refresh token is never
/// accepted where an access token is expected, or the reverse, even when both share a key.
public enum TokenUse: String, Codable, Sendable {
    case access
    case refresh
}

/// Claims of an access JWT (architecture.md, "Identity model").
public struct AccessTokenClaims: JWTPayload, Equatable {
    /// Tinode user id, `usr...`.
    public var userID: String
    /// Random 128-bit id, the key of the token exchange in the token store.
    public var accessID: String
    public var issuedAt: Date
    public var expiresAt: Date
    public var notBefore: Date?
    public var issuer: String
    public var audience: String
    public var use: TokenUse

    enum CodingKeys: String, CodingKey {
        case userID = "user_id"
        case accessID = "access_id"
        case issuedAt = "iat"
        case expiresAt = "exp"
        case notBefore = "nbf"
        case issuer = "iss"
        case audience = "aud"
        case use = "token_use"
    }

    public init(
        userID: String, accessID: String, issuedAt: Date, expiresAt: Date, notBefore: Date? = nil,
        issuer: String, audience: String
    ) {
        self.userID = userID
        self.accessID = accessID
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.notBefore = notBefore
        self.issuer = issuer
        self.audience = audience
        self.use = .access
    }

    /// Time and audience checks happen in `TokenVerifier`, which knows the clock and the leeway.
    public func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// Claims of a refresh JWT: the refresh id is single-use; the family ties every rotation of one
/// login together so that a reused refresh token can revoke the whole family.
public struct RefreshTokenClaims: JWTPayload, Equatable {
    public var userID: String
    public var refreshID: String
    public var familyID: String
    public var issuedAt: Date
    public var expiresAt: Date
    public var notBefore: Date?
    public var issuer: String
    public var audience: String
    public var use: TokenUse

    enum CodingKeys: String, CodingKey {
        case userID = "user_id"
        case refreshID = "jti"
        case familyID = "family_id"
        case issuedAt = "iat"
        case expiresAt = "exp"
        case notBefore = "nbf"
        case issuer = "iss"
        case audience = "aud"
        case use = "token_use"
    }

    public init(
        userID: String, refreshID: String, familyID: String, issuedAt: Date, expiresAt: Date,
        notBefore: Date? = nil, issuer: String, audience: String
    ) {
        self.userID = userID
        self.refreshID = refreshID
        self.familyID = familyID
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.notBefore = notBefore
        self.issuer = issuer
        self.audience = audience
        self.use = .refresh
    }

    public func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// What every verified token offers the verifier's common checks.
protocol VerifiableClaims: JWTPayload {
    var issuedAt: Date { get }
    var expiresAt: Date { get }
    var notBefore: Date? { get }
    var issuer: String { get }
    var audience: String { get }
    var use: TokenUse { get }
}

extension AccessTokenClaims: VerifiableClaims {}
extension RefreshTokenClaims: VerifiableClaims {}

extension AccessTokenClaims {
    /// Dates are NumericDate (seconds since the epoch), as RFC 7519 says.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        userID = try container.decode(String.self, forKey: .userID)
        accessID = try container.decode(String.self, forKey: .accessID)
        issuedAt = try container.decodeNumericDate(.issuedAt)
        expiresAt = try container.decodeNumericDate(.expiresAt)
        notBefore = try container.decodeNumericDateIfPresent(.notBefore)
        issuer = try container.decode(String.self, forKey: .issuer)
        audience = try container.decodeAudience(.audience)
        use = try container.decode(TokenUse.self, forKey: .use)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(userID, forKey: .userID)
        try container.encode(accessID, forKey: .accessID)
        try container.encode(Int64(issuedAt.timeIntervalSince1970), forKey: .issuedAt)
        try container.encode(Int64(expiresAt.timeIntervalSince1970), forKey: .expiresAt)
        try container.encodeIfPresent(notBefore.map { Int64($0.timeIntervalSince1970) }, forKey: .notBefore)
        try container.encode(issuer, forKey: .issuer)
        try container.encode(audience, forKey: .audience)
        try container.encode(use, forKey: .use)
    }
}

extension RefreshTokenClaims {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        userID = try container.decode(String.self, forKey: .userID)
        refreshID = try container.decode(String.self, forKey: .refreshID)
        familyID = try container.decode(String.self, forKey: .familyID)
        issuedAt = try container.decodeNumericDate(.issuedAt)
        expiresAt = try container.decodeNumericDate(.expiresAt)
        notBefore = try container.decodeNumericDateIfPresent(.notBefore)
        issuer = try container.decode(String.self, forKey: .issuer)
        audience = try container.decodeAudience(.audience)
        use = try container.decode(TokenUse.self, forKey: .use)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(userID, forKey: .userID)
        try container.encode(refreshID, forKey: .refreshID)
        try container.encode(familyID, forKey: .familyID)
        try container.encode(Int64(issuedAt.timeIntervalSince1970), forKey: .issuedAt)
        try container.encode(Int64(expiresAt.timeIntervalSince1970), forKey: .expiresAt)
        try container.encodeIfPresent(notBefore.map { Int64($0.timeIntervalSince1970) }, forKey: .notBefore)
        try container.encode(issuer, forKey: .issuer)
        try container.encode(audience, forKey: .audience)
        try container.encode(use, forKey: .use)
    }
}

extension KeyedDecodingContainer {
    fileprivate func decodeNumericDate(_ key: Key) throws -> Date {
        Date(timeIntervalSince1970: try decode(Double.self, forKey: key))
    }

    fileprivate func decodeNumericDateIfPresent(_ key: Key) throws -> Date? {
        try decodeIfPresent(Double.self, forKey: key).map { Date(timeIntervalSince1970: $0) }
    }

    /// `aud` may be one string or an array of strings (RFC 7519 §4.1.3); an array must contain
    /// exactly the one audience we issue, so it is reduced to that string only when it has one entry.
    fileprivate func decodeAudience(_ key: Key) throws -> String {
        if let single = try? decode(String.self, forKey: key) { return single }
        let many = try decode([String].self, forKey: key)
        guard many.count == 1 else {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "several audiences")
        }
        return many[0]
    }
}
