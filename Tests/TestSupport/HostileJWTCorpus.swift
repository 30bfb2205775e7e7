import Crypto
import Foundation

/// One hostile token and the public answer it must get.
public struct HostileToken: Sendable {
    /// Which of the generic answers applies: REST-auth says `malformed`, `expired` or `failed`; the
    /// Gateway answers 401 `invalid_token` to all three.
    public enum Refusal: String, Sendable {
        case malformed
        case expired
        case failed
    }

    public let name: String
    public let token: String
    public let refusal: Refusal
}

/// The JWT corpus of issue 9: variants of one valid access token of ours, each refused for one
/// reason (unsigned, algorithm confusion, hostile `kid`, `jku`/`x5u`/`jwk`, times, issuer,
/// audience, token use, size, encoding, JSON bombs).
public enum HostileJWTCorpus {
    /// - Parameters:
    ///   - valid: the claims of a live access token (its `access_id` is in the store).
    ///   - secret: `ACCESS_SECRET`, which signs tokens without `kid`.
    ///   - confusionKey: a verify-only ES256 key the verifier holds under `confusionKID`.
    ///   - refreshToken: a refresh token of the same user.
    ///   - fetchURL: where `jku`, `x5u` and a URL-shaped `kid` point; nothing may connect there.
    public static func tokens(
        valid: [String: Any], secret: [UInt8], confusionKey: P256.Signing.PublicKey, confusionKID: String, refreshToken: String,
        fetchURL: String
    ) -> [HostileToken] {
        let now = Int(Date().timeIntervalSince1970)
        let attacker = Array("attacker-secret-attacker-secret-0123".utf8)
        func with(_ changes: [String: Any]) -> [String: Any] { valid.merging(changes) { $1 } }
        func hs(_ header: [String: Any], _ claims: [String: Any], key: [UInt8] = secret) -> String {
            signHS256(header: header, claims: claims, secret: key)
        }
        let hs256: [String: Any] = ["alg": "HS256", "typ": "JWT"]
        let validPayload = String(hs(hs256, valid).split(separator: ".")[1])
        // 350 levels: under the 1 KiB header cap, so the header parser itself meets it.
        let nested = "{\"alg\":\"HS256\",\"x\":" + String(repeating: "[", count: 350) + String(repeating: "]", count: 350) + "}"
        let cases: [(String, String, HostileToken.Refusal)] = [
            ("alg none, no signature", unsignedJWT(header: ["alg": "none", "typ": "JWT"], claims: valid) + ".", .failed),
            ("alg None", unsignedJWT(header: ["alg": "None"], claims: valid) + ".", .failed),
            ("alg none with our HMAC", hs(["alg": "none"], valid), .failed),
            (
                "HS256 signed with the ES256 public key (PEM)",
                hs(["alg": "HS256", "kid": confusionKID], valid, key: Array(confusionKey.pemRepresentation.utf8)), .failed
            ),
            (
                "HS256 signed with the ES256 public key (DER)",
                hs(["alg": "HS256", "kid": confusionKID], valid, key: Array(confusionKey.derRepresentation)), .failed
            ),
            ("ES256 header on our HMAC", hs(["alg": "ES256"], valid), .failed),
            ("unknown kid", hs(["alg": "HS256", "kid": "2031-01"], valid), .failed),
            ("path kid", hs(["alg": "HS256", "kid": "../../../../../../etc/passwd"], valid), .failed),
            ("device kid", hs(["alg": "HS256", "kid": "/dev/zero"], valid), .failed),
            ("URL kid", hs(["alg": "HS256", "kid": fetchURL], valid), .failed),
            ("kid with NUL", hs(["alg": "HS256", "kid": "a\u{0}b"], valid), .failed),
            ("jku to the attacker's keys", hs(["alg": "HS256", "jku": fetchURL], valid, key: attacker), .failed),
            ("x5u to the attacker's certificate", hs(["alg": "HS256", "x5u": fetchURL], valid, key: attacker), .failed),
            ("embedded jwk", hs(["alg": "HS256", "jwk": ["kty": "oct", "k": base64URL(Data(attacker))]], valid, key: attacker), .failed),
            ("crit header", hs(["alg": "HS256", "crit": ["exp"], "exp": 1], valid), .failed),
            ("expired", hs(hs256, with(["exp": now - 3600, "iat": now - 7200])), .expired),
            ("nbf in the future", hs(hs256, with(["nbf": now + 3600])), .failed),
            ("wrong iss", hs(hs256, with(["iss": "https://evil.example"])), .failed),
            ("wrong aud", hs(hs256, with(["aud": "another-app"])), .failed),
            ("aud list with a second audience", hs(hs256, with(["aud": ["tinode-sidecar", "another-app"]])), .malformed),
            ("refresh token as access token", refreshToken, .failed),
            ("token_use refresh", hs(hs256, with(["token_use": "refresh"])), .failed),
            ("no token_use", hs(hs256, valid.filter { $0.key != "token_use" }), .malformed),
            (
                "revoked access id", hs(hs256, with(["access_id": base64URL(Data((0..<16).map { _ in UInt8.random(in: 0...255) }))])),
                .expired
            ),
            ("another user's id", hs(hs256, with(["user_id": "usrAAAAAAAAAAAA"])), .failed),
            ("exp as text", hs(hs256, with(["exp": "tomorrow"])), .malformed),
            ("60 KB token", hs(hs256, with(["pad": String(repeating: "A", count: 45_000)])), .malformed),
            ("100 KB token", hs(hs256, with(["pad": String(repeating: "A", count: 75_000)])), .malformed),
            (
                "signature of another payload",
                hs(hs256, valid).split(separator: ".")[0] + "." + hs(hs256, with(["user_id": "usrBBBBBBBBBBBB"])).split(separator: ".")[1]
                    + "."
                    + hs(hs256, valid).split(separator: ".")[2], .failed
            ),
            ("bad base64 characters", "eyJhbGciOiJIUzI1NiJ9!.e30*.sig$", .malformed),
            ("padding", hs(hs256, valid) + "==", .malformed),
            ("two parts", "eyJhbGciOiJIUzI1NiJ9.e30", .malformed),
            ("four parts", hs(hs256, valid) + ".e30", .malformed),
            ("empty parts", "..", .malformed),
            ("JSON bomb header (50 000 brackets)", base64URL(Data(String(repeating: "[", count: 50_000).utf8)) + ".e30.AAAA", .malformed),
            ("nested header under the size cap", base64URL(Data(nested.utf8)) + "." + validPayload + ".AAAA", .failed),
            ("header not an object", base64URL(Data(#""HS256""#.utf8)) + ".e30.AAAA", .malformed),
            ("not a JWT", "hello", .malformed),
        ]
        return cases.map { HostileToken(name: $0.0, token: $0.1, refusal: $0.2) }
    }

    /// The claims of a JWT, read without verifying it (to forge variants of a real token).
    public static func claims(of token: String) -> [String: Any]? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { return nil }
        var base64 = parts[1].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64).flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
    }
}
