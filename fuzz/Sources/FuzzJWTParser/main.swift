// libFuzzer target: JWT verification (our access and refresh tokens, and an external issuer's).
//
// The input bytes are the token (invalid UTF-8 replaced). Invariants checked on every input:
// * verification never crashes, whatever the header, payload or signature;
// * nothing is accepted that was not signed with one of the verifier's keys: an accepted token's
//   signature is checked again here, independently of jwt-kit (HMAC-SHA256 with the secret, or
//   ECDSA P-256 with the public key), over the exact bytes of `header.payload`, and its signature
//   part must be the canonical base64url of that signature;
// * accepted claims carry the expected issuer, audience and token use, and are not expired.
import Crypto
import Dispatch
import Foundation
import FuzzSupport
import SidecarCore

enum JWTFuzzing {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    static let accessSecret = Array("fuzz-access-secret-0123456789abcdef!!".utf8)
    static let refreshSecret = Array("fuzz-refresh-secret-0123456789abcdef!".utf8)
    static let externalSecret = Array("fuzz-external-secret-0123456789abcdef".utf8)
    static let ecKey = try! P256.Signing.PrivateKey(rawRepresentation: SHA256.hash(data: Array("fuzz-ec-key".utf8)))

    struct Verifiers: Sendable {
        let tokens: TokenService
        let external: ExternalTokenVerifier
    }

    static let verifiers: Verifiers = runBlocking {
        let keys = #"[{"kid": "ec", "alg": "ES256", "private_key": \#(String(reflecting: ecKey.pemRepresentation))}]"#
        let settings = JWTSettings(
            accessSecret: SecretBytes(accessSecret), previousAccessSecret: nil, refreshSecret: SecretBytes(refreshSecret),
            signingKeysJSON: keys, issuer: "tinode-sidecar", audience: "tinode-sidecar", accessTTL: .seconds(900),
            refreshTTL: .seconds(86_400), leeway: .seconds(5))
        let external = ExternalJWTSettings(
            issuer: "https://backend.example", audience: nil,
            keysJSON: #"[{"kid": "backend-1", "alg": "HS256", "secret": "\#(String(decoding: externalSecret, as: UTF8.self))"}]"#)
        return Verifiers(
            tokens: try! await TokenService(settings: settings, now: { now }),
            external: try! await ExternalTokenVerifier(settings: external, leeway: .seconds(5), now: { now }))
    }

    static func check(_ bytes: UnsafeRawBufferPointer) {
        let token = String(decoding: bytes, as: UTF8.self)
        let verifiers = self.verifiers
        _ = TokenService.unverifiedIssuer(of: token)
        let (access, refresh, external) = runBlocking {
            (
                try? await verifiers.tokens.verifyAccessToken(token), try? await verifiers.tokens.verifyRefreshToken(token),
                try? await verifiers.external.verify(token)
            )
        }
        if let access {
            requireSigned(token, hmacKeys: [accessSecret], ecKey: ecKey.publicKey, kind: "access")
            require(
                access.issuer == "tinode-sidecar" && access.audience == "tinode-sidecar" && access.expiresAt > now.addingTimeInterval(-5))
        }
        if let refresh {
            requireSigned(token, hmacKeys: [refreshSecret], ecKey: nil, kind: "refresh")
            require(
                refresh.issuer == "tinode-sidecar" && refresh.audience == "tinode-sidecar" && refresh.expiresAt > now.addingTimeInterval(-5)
            )
        }
        if let external {
            requireSigned(token, hmacKeys: [externalSecret], ecKey: nil, kind: "external")
            require(external.issuer == "https://backend.example" && external.expiresAt > now.addingTimeInterval(-5))
        }
    }

    /// Fails unless the token is `header.payload.signature` with a canonical base64url signature
    /// made by one of the keys, with the algorithm its header names.
    static func requireSigned(_ token: String, hmacKeys: [[UInt8]], ecKey: P256.Signing.PublicKey?, kind: String) {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let signature = canonicalBase64URL(parts[2]), let headerBytes = canonicalBase64URL(parts[0]),
            let header = try? JSONSerialization.jsonObject(with: Data(headerBytes)) as? [String: Any]
        else { fatalError("accepted \(kind) token is not three canonical base64url parts: \(token.debugDescription)") }
        let input = Array("\(parts[0]).\(parts[1])".utf8)
        switch header["alg"] as? String {
        case "HS256":
            let signed = hmacKeys.contains { key in
                Array(HMAC<SHA256>.authenticationCode(for: input, using: SymmetricKey(data: key))) == signature
            }
            if !signed { fatalError("accepted an HS256 \(kind) token not signed with its secret: \(token.debugDescription)") }
        case "ES256":
            guard let ecKey, header["kid"] as? String == "ec",
                let parsed = try? P256.Signing.ECDSASignature(rawRepresentation: signature),
                ecKey.isValidSignature(parsed, for: input)
            else { fatalError("accepted an ES256 \(kind) token not signed with the key: \(token.debugDescription)") }
        default:
            fatalError("accepted a \(kind) token with alg \(String(describing: header["alg"])): \(token.debugDescription)")
        }
    }

    /// The bytes of unpadded base64url text, only when re-encoding them gives the same text.
    static func canonicalBase64URL(_ text: Substring) -> [UInt8]? {
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        guard !standard.contains("=") else { return nil }
        while standard.count % 4 != 0 { standard += "=" }
        guard let data = Data(base64Encoded: standard) else { return nil }
        let again = data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        return again == text ? Array(data) : nil
    }

    static func require(_ condition: Bool, _ line: UInt = #line) {
        if !condition { fatalError("accepted claims break an invariant (line \(line))") }
    }
}

/// Runs async work to completion from libFuzzer's synchronous callback.
func runBlocking<T: Sendable>(_ body: @escaping @Sendable () async -> T) -> T {
    let box = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    Task {
        box.value = await body()
        done.signal()
    }
    done.wait()
    return box.value!
}

/// Written by the task, read after the semaphore: never at the same time.
final class ResultBox<T>: @unchecked Sendable {
    var value: T?
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJWTParser(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    JWTFuzzing.check(UnsafeRawBufferPointer(start: start, count: count))
    return 0
}

runFuzzer { data, count in
    guard let data else { return 0 }
    return fuzzJWTParser(data, count)
}
