import Crypto
import Foundation
import JWTKit

/// The algorithms we accept. `none` and everything else are refused before any key is touched.
public enum SigningAlgorithm: String, Sendable, Codable, CaseIterable {
    case hs256 = "HS256"
    case es256 = "ES256"
    case edDSA = "EdDSA"
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
