import Crypto
import Foundation
import JWTKit

/// The algorithms we accept. `none` and everything else are refused before any key is touched.
public enum SigningAlgorithm: String, Sendable, Codable, CaseIterable {
    case hs256 = "HS256"
    case es256 = "ES256"
    case edDSA = "EdDSA"
    /// Verification only: for external issuers, whose JWKS most often publish RSA keys.
    case rs256 = "RS256"
}

/// One key of a key set: its id, its algorithm and a jwt-kit collection holding only it, so that
/// verification can never fall through to another key.
public struct SigningKey: Sendable {
    /// nil for the default HS256 key, whose tokens carry no `kid` (compatible with backends that
    /// sign with ACCESS_SECRET alone).
    public let kid: String?
    public let algorithm: SigningAlgorithm
    /// Whether it holds a private (or symmetric) key and can sign.
    public let canSign: Bool
    /// The public JWK, for asymmetric keys only.
    public let publicJWK: [String: String]?
    let collection: JWTKeyCollection

    /// An HS256 key.
    public static func hmac(_ secret: SecretBytes, kid: String?) async -> SigningKey {
        let collection = JWTKeyCollection()
        await collection.add(hmac: HMACKey(from: secret.bytes), digestAlgorithm: .sha256)
        return SigningKey(kid: kid, algorithm: .hs256, canSign: true, publicJWK: nil, collection: collection)
    }

    /// An ES256 key from a PKCS#8/SEC1 private-key PEM or an SPKI public-key PEM.
    public static func es256(pem: String, kid: String, isPrivate: Bool) async throws -> SigningKey {
        let collection = JWTKeyCollection()
        let publicKey: ES256PublicKey
        if isPrivate {
            let key = try ES256PrivateKey(pem: pem)
            publicKey = key.publicKey
            await collection.add(ecdsa: key)
        } else {
            publicKey = try ES256PublicKey(pem: pem)
            await collection.add(ecdsa: publicKey)
        }
        guard let parameters = publicKey.parameters else {
            throw ConfigurationError(setting: Settings.signingKeys.name, reason: "key \(kid): not a P-256 key")
        }
        let jwk = ["kty": "EC", "crv": "P-256", "x": parameters.x, "y": parameters.y, "kid": kid, "alg": "ES256", "use": "sig"]
        return SigningKey(kid: kid, algorithm: .es256, canSign: isPrivate, publicJWK: jwk, collection: collection)
    }

    /// An Ed25519 key from a PKCS#8 private-key PEM or an SPKI public-key PEM.
    public static func edDSA(pem: String, kid: String, isPrivate: Bool) async throws -> SigningKey {
        let collection = JWTKeyCollection()
        let publicKey: EdDSA.PublicKey
        if isPrivate {
            let key = try EdDSA.PrivateKey(pem: pem)
            publicKey = key.publicKey
            await collection.add(eddsa: key)
        } else {
            publicKey = try EdDSA.PublicKey(pem: pem)
            await collection.add(eddsa: publicKey)
        }
        let x = publicKey.rawRepresentation.base64URLEncodedString()
        let jwk = ["kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA", "use": "sig"]
        return SigningKey(kid: kid, algorithm: .edDSA, canSign: isPrivate, publicJWK: jwk, collection: collection)
    }
}

extension SigningKey {
    /// An RSA public key (at least 2048 bits) that verifies RS256 signatures; RS256 never signs here.
    public static func rs256(pem: String, kid: String?) async throws -> SigningKey {
        let key = try Insecure.RSA.PublicKey(pem: pem)
        let collection = JWTKeyCollection()
        await collection.add(rsa: key, digestAlgorithm: .sha256)
        return SigningKey(kid: kid, algorithm: .rs256, canSign: false, publicJWK: nil, collection: collection)
    }

    /// A verification key from one entry of a JSON Web Key Set, or nil for an entry that is not a
    /// signature key this verifier supports (encryption keys, other curves, other algorithms).
    ///
    /// `alg` is taken from the entry or, when absent, from its key type: RSA -> RS256, EC P-256 -> ES256,
    /// OKP Ed25519 -> EdDSA.
    static func verifier(jwk entry: [String: Any], kid: String?) async throws -> SigningKey? {
        if let use = entry["use"] as? String, use != "sig" { return nil }
        let collection = JWTKeyCollection()
        let algorithm: SigningAlgorithm
        switch (entry["kty"] as? String, entry["crv"] as? String) {
        case ("RSA", _):
            guard let n = entry["n"] as? String, let e = entry["e"] as? String else { return nil }
            algorithm = .rs256
            await collection.add(rsa: try Insecure.RSA.PublicKey(modulus: n, exponent: e), digestAlgorithm: .sha256)
        case ("EC", "P-256"):
            guard let x = entry["x"] as? String, let y = entry["y"] as? String else { return nil }
            algorithm = .es256
            await collection.add(ecdsa: try ES256PublicKey(parameters: (x: x, y: y)))
        case ("OKP", "Ed25519"):
            guard let x = entry["x"] as? String else { return nil }
            algorithm = .edDSA
            await collection.add(eddsa: try EdDSA.PublicKey(x: x, curve: .ed25519))
        default:
            return nil
        }
        if let declared = entry["alg"] as? String, declared != algorithm.rawValue { return nil }
        return SigningKey(kid: kid, algorithm: algorithm, canSign: false, publicJWK: nil, collection: collection)
    }
}

extension Data {
    func base64URLEncodedString() -> String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

extension Array where Element == UInt8 {
    /// base64url without padding: for ids that travel in JWTs and URLs.
    public func base64URLEncodedString() -> String { Data(self).base64URLEncodedString() }
}
