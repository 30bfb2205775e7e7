import Foundation
import TestSupport
import Testing

@testable import SidecarCore

/// The claims checks of ``ExternalTokenVerifier``, at a fixed clock: what is refused, why, and the
/// boundaries that still pass.
@Suite("External tokens: sub, exp, lifetime, iat and email_verified")
struct ExternalTokenClaimsTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    static let issuer = "https://backend.example"
    static let secret = "external-claims-secret-0123456789abcdef"
    /// Seconds; the verifier gets 5 s of leeway and a one-hour maximum lifetime.
    static let leeway = 5
    static let maximum = 3600
    static let at = Int(now.timeIntervalSince1970)

    static func verifier(emailVerifiedClaim: String = "email_verified") async throws -> ExternalTokenVerifier {
        let settings = ExternalJWTSettings(
            issuer: issuer, audience: nil, keysJSON: #"[{"kid": "k1", "alg": "HS256", "secret": "\#(secret)"}]"#,
            emailVerifiedClaim: emailVerifiedClaim, maxLifetime: .seconds(maximum))
        return try await ExternalTokenVerifier(settings: settings, leeway: .seconds(leeway), now: { now })
    }

    /// A claim's value in a test's arguments (which must be `Sendable`, as `Any` is not).
    enum Claim: Sendable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral {
        case absent, string(String), int(Int), bool(Bool), strings([String])

        init(stringLiteral value: String) { self = .string(value) }
        init(integerLiteral value: Int) { self = .int(value) }
        init(booleanLiteral value: Bool) { self = .bool(value) }

        var json: Any? {
            switch self {
            case .absent: nil
            case .string(let text): text
            case .int(let number): number
            case .bool(let flag): flag
            case .strings(let list): list
            }
        }
    }

    /// A token with `sub`, `email`, `iss` and `exp` ten minutes ahead, changed by `changes`.
    static func token(_ changes: [String: Claim] = [:]) -> String {
        var claims: [String: Any] = ["sub": "user-1", "email": "Ann@Example.com", "iss": issuer, "exp": at + 600]
        for (claim, value) in changes { claims[claim] = value.json }
        return signHS256(header: ["alg": "HS256", "kid": "k1"], claims: claims, secret: Array(secret.utf8))
    }

    @Test(
        "refused claims, each with its reason",
        arguments: [
            ("no sub", ["sub": .absent], TokenRejection.missingClaim),
            ("empty sub", ["sub": ""], .missingClaim),
            ("sub of 256 bytes", ["sub": .string(String(repeating: "s", count: 256))], .missingClaim),
            ("no exp", ["exp": .absent], .missingClaim),
            ("no email", ["email": .absent], .missingClaim),
            ("exp - iat one second over", ["iat": .int(at - 10), "exp": .int(at - 10 + maximum + 1)], .lifetimeTooLong),
            ("no iat, exp - now over maximum and leeway", ["exp": .int(at + maximum + leeway + 1)], .lifetimeTooLong),
            ("iat past the leeway", ["iat": .int(at + leeway + 1)], .issuedInFuture),
            ("expired", ["exp": .int(at - leeway)], .expired),
            ("another issuer", ["iss": "https://stranger.example"], .wrongIssuer),
            ("no issuer", ["iss": .absent], .wrongIssuer),
        ] as [(String, [String: Claim], TokenRejection)])
    func refused(name: String, changes: [String: Claim], rejection: TokenRejection) async throws {
        let verifier = try await Self.verifier()
        await #expect(throws: rejection, "\(name)") { try await verifier.verify(Self.token(changes)) }
    }

    @Test(
        "the limits themselves are accepted",
        arguments: [
            ("exp - iat exactly the maximum", ["iat": .int(at - 10), "exp": .int(at - 10 + maximum)]),
            ("no iat, exp - now exactly the maximum and leeway", ["exp": .int(at + maximum + leeway)]),
            ("iat at the leeway", ["iat": .int(at + leeway)]),
            ("sub of 255 bytes", ["sub": .string(String(repeating: "é", count: 127) + "s")]),
        ] as [(String, [String: Claim])])
    func accepted(name: String, changes: [String: Claim]) async throws {
        let claims = try await Self.verifier().verify(Self.token(changes))
        #expect(claims.issuer == Self.issuer, "\(name)")
    }

    @Test("a verified token's claims come back whole")
    func claimsReturned() async throws {
        let claims = try await Self.verifier().verify(
            Self.token([
                "iat": .int(Self.at - 60), "name": "Ann", "email_verified": true, "aud": .strings(["a", "b"]), "nbf": .int(Self.at - 60),
            ]))
        #expect(
            claims
                == ExternalTokenClaims(
                    subject: "user-1", email: "Ann@Example.com", name: "Ann", issuer: Self.issuer, audiences: ["a", "b"],
                    expiresAt: Date(timeIntervalSince1970: TimeInterval(Self.at + 600)),
                    notBefore: Date(timeIntervalSince1970: TimeInterval(Self.at - 60)),
                    issuedAt: Date(timeIntervalSince1970: TimeInterval(Self.at - 60)), emailVerified: true))
    }

    @Test(
        "only JSON true and the string \"true\" say the address is verified",
        arguments: [
            (true, true), ("true", true), (false, false), ("false", false), (1, false), ("1", false), ("True", false),
            ("TRUE", false), ("yes", false), (.absent, false), (.strings(["true"]), false),
        ] as [(Claim, Bool)])
    func emailVerified(value: Claim, verified: Bool) async throws {
        let claims = try await Self.verifier().verify(Self.token(["email_verified": value]))
        #expect(claims.emailVerified == verified, "\(String(describing: value))")
    }

    @Test("EXTERNAL_JWT_EMAIL_VERIFIED_CLAIM chooses the claim; the standard one then means nothing")
    func customClaim() async throws {
        let verifier = try await Self.verifier(emailVerifiedClaim: "https://backend.example/verified")
        #expect(try await verifier.verify(Self.token(["https://backend.example/verified": true])).emailVerified)
        #expect(try await verifier.verify(Self.token(["email_verified": true])).emailVerified == false)
    }

    @Test("the new rejections have their own log codes and tell clients only 'invalid'")
    func codes() {
        #expect(TokenRejection.missingClaim.code == "missing_claim")
        #expect(TokenRejection.lifetimeTooLong.code == "lifetime_too_long")
        #expect(TokenRejection.issuedInFuture.code == "issued_in_future")
        for rejection in [TokenRejection.missingClaim, .lifetimeTooLong, .issuedInFuture] {
            #expect(rejection.publicReason == .invalid)
        }
    }
}
