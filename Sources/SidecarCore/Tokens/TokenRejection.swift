/// Why a token was refused. Each case is a distinct internal reason for logs and metrics; clients
/// only ever learn `publicReason` ("invalid" or "expired").
public enum TokenRejection: Error, Equatable, Sendable, CustomStringConvertible {
    /// Not three base64url parts, too long, header or payload not JSON, a claim missing or mistyped.
    case malformed
    /// `alg` is `none` or not one we support.
    case unsupportedAlgorithm
    /// `alg` differs from the algorithm of the key that `kid` (or its absence) selects.
    case algorithmMismatch
    /// `kid` names no key we have.
    case unknownKey
    /// The header lists `crit` extensions we do not understand (RFC 7515 §4.1.11).
    case unsupportedCriticalHeader
    case badSignature
    case expired
    case notYetValid
    case wrongIssuer
    case wrongAudience
    /// An access token where a refresh token is expected, or the reverse.
    case wrongTokenUse
    /// The issuer's published keys (JWKS) could not be fetched yet: not the token's fault.
    case keysUnavailable
    /// An external token lacks a claim it must carry (`sub`, `exp`, `email`), or `sub` is empty or
    /// longer than 255 bytes.
    case missingClaim
    /// An external token lives longer than `EXTERNAL_JWT_MAX_LIFETIME_SECONDS` (`exp - iat`, or
    /// `exp - now` without `iat`).
    case lifetimeTooLong
    /// An external token's `iat` is later than now plus the leeway.
    case issuedInFuture

    /// The only thing a client is told.
    public enum PublicReason: String, Sendable {
        case invalid
        case expired
    }

    public var publicReason: PublicReason { self == .expired ? .expired : .invalid }

    /// A stable snake_case code for logs and metrics labels.
    public var code: String {
        switch self {
        case .malformed: "malformed"
        case .unsupportedAlgorithm: "unsupported_algorithm"
        case .algorithmMismatch: "algorithm_mismatch"
        case .unknownKey: "unknown_key"
        case .unsupportedCriticalHeader: "unsupported_critical_header"
        case .badSignature: "bad_signature"
        case .expired: "expired"
        case .notYetValid: "not_yet_valid"
        case .wrongIssuer: "wrong_issuer"
        case .wrongAudience: "wrong_audience"
        case .wrongTokenUse: "wrong_token_use"
        case .keysUnavailable: "keys_unavailable"
        case .missingClaim: "missing_claim"
        case .lifetimeTooLong: "lifetime_too_long"
        case .issuedInFuture: "issued_in_future"
        }
    }

    public var description: String { "token rejected: \(code)" }
}
