import Foundation
import JWTKit

/// Claims of a JWT minted by a self-hoster's own backend: the user is identified by `email`.
public struct ExternalTokenClaims: JWTPayload, Equatable {
    public var subject: String
    public var email: String
    public var name: String?
    public var issuer: String
    public var audiences: [String]
    public var expiresAt: Date
    public var notBefore: Date?

    enum CodingKeys: String, CodingKey {
        case subject = "sub"
        case email
        case name
        case issuer = "iss"
        case audience = "aud"
        case expiresAt = "exp"
        case notBefore = "nbf"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        subject = try container.decode(String.self, forKey: .subject)
        email = try container.decode(String.self, forKey: .email)
        name = try container.decodeIfPresent(String.self, forKey: .name)
        issuer = try container.decode(String.self, forKey: .issuer)
        if let one = try? container.decodeIfPresent(String.self, forKey: .audience) {
            audiences = [one]
        } else {
            audiences = try container.decodeIfPresent([String].self, forKey: .audience) ?? []
        }
        expiresAt = Date(timeIntervalSince1970: try container.decode(Double.self, forKey: .expiresAt))
        notBefore = try container.decodeIfPresent(Double.self, forKey: .notBefore).map { Date(timeIntervalSince1970: $0) }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(subject, forKey: .subject)
        try container.encode(email, forKey: .email)
        try container.encodeIfPresent(name, forKey: .name)
        try container.encode(issuer, forKey: .issuer)
        try container.encode(audiences, forKey: .audience)
        try container.encode(Int64(expiresAt.timeIntervalSince1970), forKey: .expiresAt)
        try container.encodeIfPresent(notBefore.map { Int64($0.timeIntervalSince1970) }, forKey: .notBefore)
    }

    public func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// Verifies external JWTs with the keys configured in `EXTERNAL_JWT_KEYS` and/or published at
/// `EXTERNAL_JWT_JWKS_URL`, with the same header checks as our own tokens (no `none`, `alg` must match
/// the key, unknown `kid` refused; `jku`/`x5u` never followed).
public struct ExternalTokenVerifier: Sendable {
    public let settings: ExternalJWTSettings
    let configuredKeys: [SigningKey]
    let published: JWKSKeySource?
    let leeway: Duration
    let now: @Sendable () -> Date

    /// - Parameter jwks: The issuer's published keys, when `settings.jwksURL` is set.
    public init(
        settings: ExternalJWTSettings, leeway: Duration, jwks: JWKSKeySource? = nil,
        now: @escaping @Sendable () -> Date = Date.init
    ) async throws {
        var parsed: [SigningKey] = []
        if let json = settings.keysJSON {
            do {
                parsed = try await TokenKeySet.parseSigningKeys(json)
            } catch let error as ConfigurationError {
                throw ConfigurationError(setting: Settings.externalKeys.name, reason: error.reason)
            }
        }
        // An issuer with a single key often leaves `kid` out: that one key then verifies such tokens.
        self.configuredKeys = parsed.count == 1 ? [parsed[0], parsed[0].withoutKID()] : parsed
        self.published = jwks
        self.settings = settings
        self.leeway = leeway
        self.now = now
    }

    public func verify(_ token: String) async throws(TokenRejection) -> ExternalTokenClaims {
        let keys = await keySet(for: token)
        // With no key at all (the JWKS could not be fetched yet), no token can be judged: that is our
        // outage, not a bad token.
        if keys.keysByID.isEmpty, keys.unkeyed.isEmpty { throw .keysUnavailable }
        let claims = try await TokenService.verifiedClaims(token, as: ExternalTokenClaims.self, keys: keys)
        guard claims.issuer == settings.issuer else { throw .wrongIssuer }
        if let audience = settings.audience, !claims.audiences.contains(audience) { throw .wrongAudience }
        let now = self.now()
        if claims.expiresAt.addingTimeInterval(leeway.seconds) <= now { throw .expired }
        if let notBefore = claims.notBefore, notBefore.addingTimeInterval(-leeway.seconds) > now { throw .notYetValid }
        return claims
    }

    /// The configured keys plus, when a JWKS URL is set, the published ones (fetched if the token
    /// names a `kid` we do not hold yet).
    private func keySet(for token: String) async -> TokenKeySet {
        var keys = configuredKeys
        if let published {
            var fetched = await published.keys(for: TokenService.unverifiedKeyID(of: token))
            if fetched.count == 1 { fetched.append(fetched[0].withoutKID()) }
            keys += fetched
        }
        return TokenKeySet(verifyingWith: keys)
    }
}

extension SigningKey {
    func withoutKID() -> SigningKey {
        SigningKey(kid: nil, algorithm: algorithm, canSign: canSign, publicJWK: publicJWK, collection: collection)
    }
}

extension TokenService {
    /// The `iss` claim of a token, read WITHOUT verifying anything: only to choose which verifier
    /// to ask. Nil when the token is not a readable JWT.
    public static func unverifiedIssuer(of token: String) -> String? {
        guard token.utf8.count <= maximumTokenBytes else { return nil }
        let parts = token.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 3, let payload = Base64URL.decode(parts[1]) else { return nil }
        return (try? issuerDecoder.decode(IssuerClaim.self, from: Data(payload)))?.iss
    }

    /// The `kid` header of a token, read WITHOUT verifying anything: only to know which published
    /// key to look for. Nil when the token names none or is not a readable JWT.
    static func unverifiedKeyID(of token: String) -> String? {
        guard token.utf8.count <= maximumTokenBytes else { return nil }
        let parts = token.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count <= maximumHeaderCharacters, let header = Base64URL.decode(parts[0]) else {
            return nil
        }
        return (try? issuerDecoder.decode(KeyIDHeader.self, from: Data(header)))?.kid
    }

    private static let issuerDecoder = JSONDecoder()

    private struct IssuerClaim: Decodable {
        var iss: String?
    }

    private struct KeyIDHeader: Decodable {
        var kid: String?
    }
}
