import Foundation
import JWTKit

/// Issues and verifies the sidecar's access and refresh JWTs.
///
/// Verification checks the header itself before jwt-kit sees the token: jwt-kit would fall back to
/// its default key for an unknown `kid` and does not compare `alg` with the key's algorithm. Every
/// call verifies; requests remember verified access tokens in ``AccessTokenAuthenticator``.
public struct TokenService: Sendable {
    /// Tokens longer than this are refused unread (a JWT of ours is about 300 bytes).
    public static let maximumTokenBytes = 8192
    /// Headers longer than this (base64url characters) are refused unread.
    static let maximumHeaderCharacters = 1024

    public let accessKeys: TokenKeySet
    public let refreshKeys: TokenKeySet
    public let issuer: String
    public let audience: String
    public let accessTTL: Duration
    public let refreshTTL: Duration
    public let leeway: Duration
    let now: @Sendable () -> Date

    public init(settings: JWTSettings, now: @escaping @Sendable () -> Date = Date.init) async throws {
        accessKeys = try await .access(settings)
        refreshKeys = await .refresh(settings)
        issuer = settings.issuer
        audience = settings.audience
        accessTTL = settings.accessTTL
        refreshTTL = settings.refreshTTL
        leeway = settings.leeway
        self.now = now
    }

    /// A fresh random 128-bit id (access ids, refresh ids, families), base64url.
    public static func randomID() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return bytes.base64URLEncodedString()
    }

    /// Signs an access token for `userID` carrying `accessID`.
    public func issueAccessToken(userID: String, accessID: String) async throws -> (token: String, claims: AccessTokenClaims) {
        let issuedAt = Date(timeIntervalSince1970: now().timeIntervalSince1970.rounded(.down))
        let claims = AccessTokenClaims(
            userID: userID, accessID: accessID, issuedAt: issuedAt,
            expiresAt: issuedAt.addingTimeInterval(accessTTL.seconds), issuer: issuer, audience: audience)
        return (try await sign(claims, with: accessKeys.signer), claims)
    }

    /// Signs a refresh token of `familyID`.
    public func issueRefreshToken(userID: String, refreshID: String, familyID: String) async throws -> (
        token: String, claims: RefreshTokenClaims
    ) {
        let issuedAt = Date(timeIntervalSince1970: now().timeIntervalSince1970.rounded(.down))
        let claims = RefreshTokenClaims(
            userID: userID, refreshID: refreshID, familyID: familyID, issuedAt: issuedAt,
            expiresAt: issuedAt.addingTimeInterval(refreshTTL.seconds), issuer: issuer, audience: audience)
        return (try await sign(claims, with: refreshKeys.signer), claims)
    }

    public func verifyAccessToken(_ token: String) async throws(TokenRejection) -> AccessTokenClaims {
        try await verify(token, as: AccessTokenClaims.self, keys: accessKeys, use: .access)
    }

    public func verifyRefreshToken(_ token: String) async throws(TokenRejection) -> RefreshTokenClaims {
        try await verify(token, as: RefreshTokenClaims.self, keys: refreshKeys, use: .refresh)
    }

    private func sign(_ claims: some JWTPayload, with key: SigningKey) async throws -> String {
        var header = JWTHeader()
        header.alg = key.algorithm.rawValue
        header.typ = "JWT"
        if let kid = key.kid { header.kid = kid }
        return try await key.collection.sign(claims, header: header)
    }

    private func verify<Claims: VerifiableClaims>(
        _ token: String, as type: Claims.Type, keys: TokenKeySet, use: TokenUse
    ) async throws(TokenRejection) -> Claims {
        let claims = try await Self.verifiedClaims(token, as: Claims.self, keys: keys)
        guard claims.use == use else { throw .wrongTokenUse }
        guard claims.issuer == issuer else { throw .wrongIssuer }
        guard claims.audience == audience else { throw .wrongAudience }
        try checkTimes(claims)
        return claims
    }

    /// `exp` and `nbf` against the clock, with the leeway; run on every use of a token, remembered or not.
    func checkTimes(_ claims: some VerifiableClaims) throws(TokenRejection) {
        let now = self.now()
        if claims.expiresAt.addingTimeInterval(leeway.seconds) <= now { throw .expired }
        if let notBefore = claims.notBefore, notBefore.addingTimeInterval(-leeway.seconds) > now {
            throw .notYetValid
        }
    }

    /// The token's claims once a key the header selects has verified its signature; the checks of
    /// the claims themselves are the caller's.
    static func verifiedClaims<Claims: JWTPayload>(
        _ token: String, as type: Claims.Type, keys: TokenKeySet
    ) async throws(TokenRejection) -> Claims {
        for key in try selectKeys(for: token, in: keys) {
            do {
                return try await key.collection.verify(token, as: Claims.self)
            } catch let error as JWTError where error.errorType == .signatureVerificationFailed {
                continue
            } catch {
                throw .malformed
            }
        }
        throw .badSignature
    }

    /// Reads the header and picks the keys that may verify the token; refuses what no key may.
    static func selectKeys(for token: String, in keys: TokenKeySet) throws(TokenRejection) -> [SigningKey] {
        guard token.utf8.count <= maximumTokenBytes else { throw .malformed }
        let parts = token.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        // The signature must be canonical base64url (unused low bits zero, as every encoder writes
        // them): jwt-kit ignores those bits, so up to four spellings of one token would verify.
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty, parts[0].count <= maximumHeaderCharacters,
            Base64URL.decode(parts[2]) != nil,
            let headerBytes = Base64URL.decode(parts[0]),
            let header = try? headerDecoder.decode(JOSEHeader.self, from: Data(headerBytes))
        else { throw .malformed }
        guard let alg = SigningAlgorithm(rawValue: header.alg) else { throw .unsupportedAlgorithm }
        if header.hasCritical { throw .unsupportedCriticalHeader }
        // `jku`, `x5u`, `jwk` and `x5c` are never fetched or trusted: only our own keys verify.
        let candidates: [SigningKey]
        if let kid = header.kid {
            guard let key = keys.keysByID[kid] else { throw .unknownKey }
            candidates = [key]
        } else {
            candidates = keys.unkeyed
        }
        guard !candidates.isEmpty else { throw .unknownKey }
        guard candidates.allSatisfy({ $0.algorithm == alg }) else { throw .algorithmMismatch }
        return candidates
    }

    private static let headerDecoder = JSONDecoder()
}

/// The JOSE header fields verification looks at. A `kid` or `alg` of the wrong JSON type fails
/// decoding, which the caller reports as malformed.
struct JOSEHeader: Decodable {
    var alg: String
    var kid: String?
    var hasCritical: Bool

    enum CodingKeys: String, CodingKey { case alg, kid, crit }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        alg = try container.decode(String.self, forKey: .alg)
        kid = try container.decodeIfPresent(String.self, forKey: .kid)
        hasCritical = container.contains(.crit)
    }
}

extension Duration {
    /// The duration in seconds as a `TimeInterval`.
    public var seconds: TimeInterval {
        let parts = components
        return TimeInterval(parts.seconds) + TimeInterval(parts.attoseconds) / 1e18
    }
}
