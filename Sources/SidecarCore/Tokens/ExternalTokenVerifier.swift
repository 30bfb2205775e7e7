import Foundation
import JWTKit

/// Claims of a JWT minted by a self-hoster's own backend, as ``ExternalTokenVerifier`` returns them
/// once every check passed: `(iss, sub)` names the user for good, `email` is an attribute that proves
/// something only when `emailVerified` is true.
public struct ExternalTokenClaims: JWTPayload, Equatable {
    public var subject: String
    public var email: String
    public var name: String?
    public var issuer: String
    public var audiences: [String]
    public var expiresAt: Date
    public var notBefore: Date?
    public var issuedAt: Date?
    /// Whether the issuer vouches for `email`: the claim named by `EXTERNAL_JWT_EMAIL_VERIFIED_CLAIM`
    /// is JSON `true` or the string `"true"` (some issuers, Cognito among them, send a string).
    public var emailVerified: Bool

    enum CodingKeys: String, CodingKey {
        case subject = "sub"
        case email
        case name
        case issuer = "iss"
        case audience = "aud"
        case expiresAt = "exp"
        case notBefore = "nbf"
        case issuedAt = "iat"
        case emailVerified = "email_verified"
    }

    public init(
        subject: String, email: String, name: String? = nil, issuer: String, audiences: [String] = [], expiresAt: Date,
        notBefore: Date? = nil, issuedAt: Date? = nil, emailVerified: Bool = false
    ) {
        self.subject = subject
        self.email = email
        self.name = name
        self.issuer = issuer
        self.audiences = audiences
        self.expiresAt = expiresAt
        self.notBefore = notBefore
        self.issuedAt = issuedAt
        self.emailVerified = emailVerified
    }

    /// Reads the claims strictly (every required claim present), with `email_verified` under its
    /// default name; the verifier itself reads tokens through ``ExternalTokenPayload``.
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
        issuedAt = try container.decodeIfPresent(Double.self, forKey: .issuedAt).map { Date(timeIntervalSince1970: $0) }
        emailVerified =
            (try? container.decodeIfPresent(Bool.self, forKey: .emailVerified)) == true
            || (try? container.decodeIfPresent(String.self, forKey: .emailVerified)) == "true"
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
        try container.encodeIfPresent(issuedAt.map { Int64($0.timeIntervalSince1970) }, forKey: .issuedAt)
        if emailVerified { try container.encode(true, forKey: .emailVerified) }
    }

    public func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// An external token's payload as signed, every claim optional: the verifier then refuses a missing
/// claim with a reason of its own (``TokenRejection/missingClaim``) instead of "unreadable".
///
/// Any top-level claim may say that the address is verified (`EXTERNAL_JWT_EMAIL_VERIFIED_CLAIM`
/// names it), so the names of every claim whose value is JSON `true` or the string `"true"` are kept;
/// `1`, `"1"`, `"TRUE"` and `"yes"` are not true.
struct ExternalTokenPayload: JWTPayload {
    var subject: String?
    var email: String?
    var name: String?
    var issuer: String?
    var audiences: [String]
    var expiresAt: Date?
    var notBefore: Date?
    var issuedAt: Date?
    var trueClaims: Set<String>

    struct ClaimKey: CodingKey, ExpressibleByStringLiteral {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
        init(stringLiteral value: String) { stringValue = value }
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: ClaimKey.self)
        subject = try container.decodeIfPresent(String.self, forKey: "sub")
        email = try container.decodeIfPresent(String.self, forKey: "email")
        name = try container.decodeIfPresent(String.self, forKey: "name")
        issuer = try container.decodeIfPresent(String.self, forKey: "iss")
        if let one = try? container.decodeIfPresent(String.self, forKey: "aud") {
            audiences = [one]
        } else {
            audiences = try container.decodeIfPresent([String].self, forKey: "aud") ?? []
        }
        expiresAt = try container.decodeIfPresent(Double.self, forKey: "exp").map { Date(timeIntervalSince1970: $0) }
        notBefore = try container.decodeIfPresent(Double.self, forKey: "nbf").map { Date(timeIntervalSince1970: $0) }
        issuedAt = try container.decodeIfPresent(Double.self, forKey: "iat").map { Date(timeIntervalSince1970: $0) }
        var trueClaims: Set<String> = []
        for key in container.allKeys
        where (try? container.decode(Bool.self, forKey: key)) == true || (try? container.decode(String.self, forKey: key)) == "true" {
            trueClaims.insert(key.stringValue)
        }
        self.trueClaims = trueClaims
    }

    /// Never signed by us; written only for `Encodable`'s sake.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: ClaimKey.self)
        try container.encodeIfPresent(subject, forKey: "sub")
        try container.encodeIfPresent(email, forKey: "email")
        try container.encodeIfPresent(issuer, forKey: "iss")
    }

    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// Verifies external JWTs with the keys configured in `EXTERNAL_JWT_KEYS` and/or published at
/// `EXTERNAL_JWT_JWKS_URL`, with the same header checks as our own tokens (no `none`, `alg` must match
/// the key, unknown `kid` refused; `jku`/`x5u` never followed), then the claims:
/// * `iss` is `EXTERNAL_JWT_ISSUER`; `aud` contains `EXTERNAL_JWT_AUDIENCE` when that is set;
/// * `sub` is present, not empty and at most 255 bytes: it is the user's durable identity;
/// * `email` and `exp` are present; `exp` has not passed and `nbf` has come (both with the leeway);
/// * `iat`, when present, is not in the future beyond the leeway;
/// * the token lives at most `EXTERNAL_JWT_MAX_LIFETIME_SECONDS`: `exp - iat`, or `exp - now` (plus
///   the leeway) when there is no `iat`. A stolen long-lived token would otherwise log in for good.
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
        let payload = try await TokenService.verifiedClaims(token, as: ExternalTokenPayload.self, keys: keys)
        guard payload.issuer == settings.issuer, let issuer = payload.issuer else { throw .wrongIssuer }
        if let audience = settings.audience, !payload.audiences.contains(audience) { throw .wrongAudience }
        guard let subject = payload.subject, !subject.isEmpty, subject.utf8.count <= ExternalSubject.maximumSubjectBytes,
            let email = payload.email, let expiresAt = payload.expiresAt
        else { throw .missingClaim }
        let now = self.now()
        let leeway = self.leeway.seconds
        if expiresAt.addingTimeInterval(leeway) <= now { throw .expired }
        if let notBefore = payload.notBefore, notBefore.addingTimeInterval(-leeway) > now { throw .notYetValid }
        let maximum = settings.maxLifetime.seconds
        if let issuedAt = payload.issuedAt {
            if issuedAt.addingTimeInterval(-leeway) > now { throw .issuedInFuture }
            if expiresAt.timeIntervalSince(issuedAt) > maximum { throw .lifetimeTooLong }
        } else if expiresAt.timeIntervalSince(now) > maximum + leeway {
            throw .lifetimeTooLong
        }
        return ExternalTokenClaims(
            subject: subject, email: email, name: payload.name, issuer: issuer, audiences: payload.audiences,
            expiresAt: expiresAt, notBefore: payload.notBefore, issuedAt: payload.issuedAt,
            emailVerified: payload.trueClaims.contains(settings.emailVerifiedClaim))
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
