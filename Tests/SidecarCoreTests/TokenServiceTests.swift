import Crypto
import Foundation
import JWTKit
import Testing

@testable import SidecarCore

private let accessSecret = SecretBytes(String(repeating: "a", count: 32))
private let refreshSecret = SecretBytes(String(repeating: "b", count: 32))

private func settings(
    access: SecretBytes? = accessSecret, previous: SecretBytes? = nil, refresh: SecretBytes = refreshSecret,
    keys: String? = nil
) -> JWTSettings {
    JWTSettings(
        accessSecret: access, previousAccessSecret: previous, refreshSecret: refresh, signingKeysJSON: keys,
        issuer: "tinode-sidecar", audience: "tinode-sidecar", accessTTL: .seconds(900),
        refreshTTL: .seconds(86_400), leeway: .seconds(5))
}

/// Builds a JWT by hand, so tests can make headers and claims our issuer never would.
private func handMadeToken(header: [String: Any], claims: [String: Any], hmacKey: [UInt8]? = accessSecret.bytes) -> String {
    func encode(_ object: [String: Any]) -> String {
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return data.base64URLEncodedString()
    }
    let input = encode(header) + "." + encode(claims)
    guard let hmacKey else { return input + "." }
    let mac = HMAC<SHA256>.authenticationCode(for: Data(input.utf8), using: SymmetricKey(data: hmacKey))
    return input + "." + Data(mac).base64URLEncodedString()
}

private func validClaims(now: Date = Date(), use: String = "access") -> [String: Any] {
    [
        "user_id": "usrAbCdEfGhIjK", "access_id": "acc1", "iat": Int(now.timeIntervalSince1970),
        "exp": Int(now.timeIntervalSince1970) + 600, "iss": "tinode-sidecar", "aud": "tinode-sidecar", "token_use": use,
    ]
}

private func rejection(_ service: TokenService, _ token: String) async -> TokenRejection? {
    do {
        _ = try await service.verifyAccessToken(token)
        return nil
    } catch {
        return error
    }
}

@Suite("JWT issuing and verification")
struct TokenServiceTests {
    @Test("HS256 access and refresh tokens round-trip with their claims")
    func roundTrip() async throws {
        let service = try await TokenService(settings: settings())
        let (token, claims) = try await service.issueAccessToken(userID: "usrAbCdEfGhIjK", accessID: "id-1")
        let verified = try await service.verifyAccessToken(token)
        #expect(verified == claims)
        #expect(verified.userID == "usrAbCdEfGhIjK")
        #expect(verified.accessID == "id-1")
        #expect(verified.expiresAt.timeIntervalSince(verified.issuedAt) == 900)
        let (refresh, refreshClaims) = try await service.issueRefreshToken(userID: "usrX", refreshID: "r1", familyID: "f1")
        #expect(try await service.verifyRefreshToken(refresh) == refreshClaims)
    }

    @Test("A token signed with ACCESS_SECRET by another backend (no kid) verifies")
    func compatibleWithPlainHS256() async throws {
        let service = try await TokenService(settings: settings())
        let token = handMadeToken(header: ["alg": "HS256", "typ": "JWT"], claims: validClaims())
        #expect(try await service.verifyAccessToken(token).accessID == "acc1")
    }

    @Test("ACCESS_SECRET_PREVIOUS still verifies during a rotation")
    func previousSecret() async throws {
        let old = SecretBytes(String(repeating: "o", count: 32))
        let oldService = try await TokenService(settings: settings(access: old))
        let (token, _) = try await oldService.issueAccessToken(userID: "usrA", accessID: "x")
        let rotated = try await TokenService(settings: settings(previous: old))
        #expect(try await rotated.verifyAccessToken(token).userID == "usrA")
        let notRotated = try await TokenService(settings: settings())
        #expect(await rejection(notRotated, token) == .badSignature)
    }

    @Test("ES256 and EdDSA keys sign with their kid, verify, and are published as a JWKS")
    func asymmetricKeys() async throws {
        let ec = P256.Signing.PrivateKey()
        let ed = try EdDSA.PrivateKey(curve: .ed25519)
        let keys = """
            [{"kid": "ec-2026", "alg": "ES256", "private_key": \(String(reflecting: ec.pemRepresentation))},
             {"kid": "ed-2025", "alg": "EdDSA", "private_key": \(String(reflecting: ed.pemRepresentation))}]
            """
        let service = try await TokenService(settings: settings(access: nil, keys: keys))
        let (token, _) = try await service.issueAccessToken(userID: "usrA", accessID: "x")
        #expect(try await service.verifyAccessToken(token).userID == "usrA")
        let header =
            try JSONSerialization.jsonObject(with: Data(Base64URL.decode(token.utf8.split(separator: UInt8(ascii: "."))[0])!))
            as! [String: Any]
        #expect(header["kid"] as? String == "ec-2026")
        #expect(header["alg"] as? String == "ES256")

        // A token of the second (older) key still verifies: rotation by kid.
        let edOnly = try await TokenService(
            settings: settings(
                access: nil,
                keys: """
                    [{"kid": "ed-2025", "alg": "EdDSA", "private_key": \(String(reflecting: ed.pemRepresentation))}]
                    """))
        let (edToken, _) = try await edOnly.issueAccessToken(userID: "usrB", accessID: "y")
        #expect(try await service.verifyAccessToken(edToken).userID == "usrB")

        let jwks = try JSONSerialization.jsonObject(with: Data(service.accessKeys.jwksJSON().utf8)) as! [String: [[String: String]]]
        let published = jwks["keys"]!
        #expect(published.map { $0["kid"] } == ["ec-2026", "ed-2025"])
        #expect(published[0]["kty"] == "EC" && published[0]["crv"] == "P-256" && published[0]["y"] != nil)
        #expect(published[1]["kty"] == "OKP" && published[1]["crv"] == "Ed25519")
        #expect(!service.accessKeys.jwksJSON().contains("\"d\""))  // never a private part

        // The published JWKS verifies our tokens in an independent verifier.
        let outside = JWTKeyCollection()
        try await outside.add(jwksJSON: service.accessKeys.jwksJSON())
        let payload = try await outside.verify(token, as: AccessTokenClaims.self)
        #expect(payload.userID == "usrA")
    }

    @Test("A verify-only public key verifies but cannot sign")
    func publicOnlyKey() async throws {
        let ec = P256.Signing.PrivateKey()
        let signing = try await TokenService(
            settings: settings(
                access: nil,
                keys: """
                    [{"kid": "k1", "alg": "ES256", "private_key": \(String(reflecting: ec.pemRepresentation))}]
                    """))
        let (token, _) = try await signing.issueAccessToken(userID: "usrA", accessID: "x")
        let verifying = try await TokenService(
            settings: settings(
                keys: """
                    [{"kid": "k1", "alg": "ES256", "public_key": \(String(reflecting: ec.publicKey.pemRepresentation))}]
                    """))
        #expect(try await verifying.verifyAccessToken(token).userID == "usrA")
        #expect(verifying.accessKeys.signer.kid == nil)  // ACCESS_SECRET signs
        await #expect(throws: ConfigurationError.self) {
            try await TokenService(
                settings: settings(
                    access: nil,
                    keys: """
                        [{"kid": "k1", "alg": "ES256", "public_key": \(String(reflecting: ec.publicKey.pemRepresentation))}]
                        """))
        }
    }

    @Test(
        "Bad JWT_SIGNING_KEYS are refused at start",
        arguments: [
            "not json", "[]", #"[{"alg": "ES256", "private_key": "x"}]"#, #"[{"kid": "a/b", "alg": "HS256", "secret": "x"}]"#,
            #"[{"kid": "a", "alg": "none"}]"#, #"[{"kid": "a", "alg": "HS256", "secret": "short"}]"#,
            #"[{"kid": "a", "alg": "ES256", "private_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"}]"#,
            #"[{"kid": "a", "alg": "HS256", "secret": "0123456789abcdef0123456789abcdef"}, {"kid": "a", "alg": "HS256", "secret": "0123456789abcdef0123456789abcdef"}]"#,
        ])
    func badKeySettings(json: String) async {
        await #expect(throws: ConfigurationError.self) { try await TokenService(settings: settings(keys: json)) }
    }

    @Test("Every rejection has its own internal reason and one public reason")
    func rejections() async throws {
        let now = Date()
        let ec = P256.Signing.PrivateKey()
        let service = try await TokenService(
            settings: settings(
                keys: """
                    [{"kid": "ec", "alg": "ES256", "private_key": \(String(reflecting: ec.pemRepresentation))}]
                    """), now: { now })
        let hs = ["alg": "HS256", "typ": "JWT"]
        var claims = validClaims(now: now)

        #expect(await rejection(service, handMadeToken(header: ["alg": "none"], claims: claims, hmacKey: nil)) == .unsupportedAlgorithm)
        #expect(await rejection(service, handMadeToken(header: ["alg": "NONE"], claims: claims, hmacKey: nil)) == .unsupportedAlgorithm)
        // RS256 is known (external issuers use it) but no key of ours verifies it.
        #expect(await rejection(service, handMadeToken(header: ["alg": "RS256"], claims: claims)) == .algorithmMismatch)
        #expect(await rejection(service, handMadeToken(header: ["alg": "RS512"], claims: claims)) == .unsupportedAlgorithm)
        // Algorithm confusion: HS256 "signed" with the ES256 public key as the HMAC secret.
        let confused = handMadeToken(
            header: ["alg": "HS256", "kid": "ec"], claims: claims, hmacKey: Array(ec.publicKey.pemRepresentation.utf8))
        #expect(await rejection(service, confused) == .algorithmMismatch)
        // ES256 claimed for the HS256 default key.
        #expect(await rejection(service, handMadeToken(header: ["alg": "ES256"], claims: claims)) == .algorithmMismatch)
        #expect(await rejection(service, handMadeToken(header: ["alg": "HS256", "kid": "nope"], claims: claims)) == .unknownKey)
        #expect(
            await rejection(service, handMadeToken(header: ["alg": "HS256", "kid": "../../etc/passwd"], claims: claims)) == .unknownKey)
        #expect(await rejection(service, handMadeToken(header: ["alg": "HS256", "kid": 7], claims: claims)) == .malformed)
        #expect(
            await rejection(service, handMadeToken(header: ["alg": "HS256", "crit": ["exp"]], claims: claims)) == .unsupportedCriticalHeader
        )
        // jku/x5u are never fetched: the token is checked against our own key and fails.
        let jku = handMadeToken(
            header: ["alg": "HS256", "jku": "http://127.0.0.1:1/jwks"], claims: claims,
            hmacKey: Array("other-key-other-key-other-key-!!".utf8))
        #expect(await rejection(service, jku) == .badSignature)
        #expect(
            await rejection(service, handMadeToken(header: hs, claims: claims, hmacKey: Array("wrong-key-wrong-key-wrong-key-!!".utf8)))
                == .badSignature)
        // A valid signature over a tampered payload.
        let good = handMadeToken(header: hs, claims: claims).split(separator: ".")
        var tampered = claims
        tampered["user_id"] = "usrSomeoneElse"
        let tamperedPayload = try JSONSerialization.data(withJSONObject: tampered, options: [.sortedKeys]).base64URLEncodedString()
        #expect(await rejection(service, "\(good[0]).\(tamperedPayload).\(good[2])") == .badSignature)

        claims["exp"] = Int(now.timeIntervalSince1970) - 10
        #expect(await rejection(service, handMadeToken(header: hs, claims: claims)) == .expired)
        claims["exp"] = Int(now.timeIntervalSince1970) - 2  // inside the 5 s leeway
        #expect(await rejection(service, handMadeToken(header: hs, claims: claims)) == nil)
        claims = validClaims(now: now)
        claims["nbf"] = Int(now.timeIntervalSince1970) + 60
        #expect(await rejection(service, handMadeToken(header: hs, claims: claims)) == .notYetValid)
        claims = validClaims(now: now)
        claims["iss"] = "someone-else"
        #expect(await rejection(service, handMadeToken(header: hs, claims: claims)) == .wrongIssuer)
        claims = validClaims(now: now)
        claims["aud"] = "another-app"
        #expect(await rejection(service, handMadeToken(header: hs, claims: claims)) == .wrongAudience)
        claims["aud"] = ["tinode-sidecar"]
        #expect(await rejection(service, handMadeToken(header: hs, claims: claims)) == nil)
        claims["aud"] = ["tinode-sidecar", "another-app"]
        #expect(await rejection(service, handMadeToken(header: hs, claims: claims)) == .malformed)
        claims = validClaims(now: now)
        claims.removeValue(forKey: "access_id")
        #expect(await rejection(service, handMadeToken(header: hs, claims: claims)) == .malformed)
        claims = validClaims(now: now)
        claims["exp"] = "tomorrow"
        #expect(await rejection(service, handMadeToken(header: hs, claims: claims)) == .malformed)

        for garbage in [
            "", "abc", "a.b", "a.b.c.d", "!!!.###.$$$", "eyJhbGciOiJIUzI1NiJ9..", String(repeating: "A", count: 100_000),
            "e30.e30.e30", handMadeToken(header: hs, claims: validClaims(now: now)) + "==",
        ] {
            #expect(await rejection(service, garbage) == .malformed, "\(garbage.prefix(40))")
        }
        // A JSON bomb in the header is refused before it is parsed.
        let bomb = Data(String(repeating: "[", count: 5_000).utf8).base64URLEncodedString()
        #expect(await rejection(service, bomb + ".e30.sig") == .malformed)

        #expect(TokenRejection.expired.publicReason == .expired)
        for reason in [
            TokenRejection.malformed, .unsupportedAlgorithm, .algorithmMismatch, .unknownKey, .badSignature, .notYetValid, .wrongIssuer,
            .wrongAudience, .wrongTokenUse,
        ] {
            #expect(reason.publicReason == .invalid)
        }
    }

    @Test("A signature is read only in its canonical base64url spelling (found by fuzz/JWTParser)")
    func signatureSpellingIsCanonical() async throws {
        let service = try await TokenService(settings: settings())
        let (token, _) = try await service.issueAccessToken(userID: "usrA", accessID: "x")
        #expect(await rejection(service, token) == nil)
        // 32 signature bytes are 43 characters; the last carries 4 bits and 2 unused ones, which
        // jwt-kit ignores. The same signature with those bits set must not verify.
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        let lastCharacter = try #require(token.last)
        let last = try #require(alphabet.firstIndex(of: lastCharacter))
        #expect(last % 4 == 0, "the issued token is canonical")
        for unused in 1...3 {
            let respelled = String(token.dropLast()) + String(alphabet[last + unused])
            #expect(await rejection(service, respelled) == .malformed, "\(respelled.suffix(4))")
        }
    }

    @Test("A refresh token is never an access token, nor the reverse, even with one shared secret")
    func tokenUseIsEnforced() async throws {
        let service = try await TokenService(settings: settings(refresh: accessSecret))
        let (refresh, _) = try await service.issueRefreshToken(userID: "usrA", refreshID: "r", familyID: "f")
        // Its claims lack `access_id`, so it does not even decode as an access token.
        #expect(await rejection(service, refresh) == .malformed)
        let (access, _) = try await service.issueAccessToken(userID: "usrA", accessID: "a")
        await #expect(throws: TokenRejection.self) { try await service.verifyRefreshToken(access) }
        // Same claims shape but the wrong `token_use`: refused for that reason alone.
        let forged = handMadeToken(header: ["alg": "HS256"], claims: validClaims(use: "refresh"))
        #expect(await rejection(service, forged) == .wrongTokenUse)
    }
}
