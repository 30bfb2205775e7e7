import Foundation
import JWTKit

/// The keys of one kind of token: which one signs, and which verify a token by its `kid`.
public struct TokenKeySet: Sendable {
    /// Signs newly issued tokens.
    public let signer: SigningKey
    /// Keys selected by `kid`.
    let keysByID: [String: SigningKey]
    /// Keys for tokens without `kid`, tried in order (ACCESS_SECRET, then ACCESS_SECRET_PREVIOUS).
    let unkeyed: [SigningKey]

    init(signer: SigningKey, keys: [SigningKey]) {
        self.signer = signer
        var byID: [String: SigningKey] = [:]
        var unkeyed: [SigningKey] = []
        for key in keys {
            if let kid = key.kid { byID[kid] = key } else { unkeyed.append(key) }
        }
        self.keysByID = byID
        self.unkeyed = unkeyed
    }

    /// Access-token keys from the settings: `JWT_SIGNING_KEYS` if given (its first private key
    /// signs), `ACCESS_SECRET` as the key of tokens without `kid`, `ACCESS_SECRET_PREVIOUS` after it.
    /// Keys that only verify (external issuers); `signer` is the first, never used to sign.
    init(verifyingWith keys: [SigningKey]) {
        self.init(signer: keys.first ?? Self.noKey, keys: keys)
    }

    /// Stands in as the signer of an empty verification set; it verifies nothing, since no token is
    /// checked against a key that is not in `keysByID` or `unkeyed`.
    private static let noKey = SigningKey(
        kid: nil, algorithm: .rs256, canSign: false, publicJWK: nil, collection: JWTKeyCollection())

    public static func access(_ settings: JWTSettings) async throws -> TokenKeySet {
        var keys: [SigningKey] = []
        if let json = settings.signingKeysJSON {
            keys += try await parseSigningKeys(json)
        }
        if let secret = settings.accessSecret { keys.append(await .hmac(secret, kid: nil)) }
        if let previous = settings.previousAccessSecret {
            keys.append(await .hmac(previous, kid: nil))
        }
        guard let signer = keys.first(where: \.canSign) else {
            throw ConfigurationError(setting: Settings.signingKeys.name, reason: "no key can sign: give a private_key or set ACCESS_SECRET")
        }
        return TokenKeySet(signer: signer, keys: keys)
    }

    /// Refresh tokens are only ever read by the Gateway that issued them: one HS256 key.
    public static func refresh(_ settings: JWTSettings) async -> TokenKeySet {
        let key = await SigningKey.hmac(settings.refreshSecret, kid: nil)
        return TokenKeySet(signer: key, keys: [key])
    }

    /// The public keys as a JWKS document (`{"keys": [...]}`); symmetric keys are never listed.
    public func jwksJSON() -> String {
        let keys = (keysByID.values.compactMap(\.publicJWK)).sorted { ($0["kid"] ?? "") < ($1["kid"] ?? "") }
        let data = try? JSONSerialization.data(withJSONObject: ["keys": keys], options: [.sortedKeys])
        return data.flatMap { String(data: $0, encoding: .utf8) } ?? #"{"keys":[]}"#
    }

    /// Parses `[{"kid": "...", "alg": "ES256"|"EdDSA"|"HS256", "private_key"|"public_key"|"secret": "..."}]`.
    static func parseSigningKeys(_ json: String) async throws -> [SigningKey] {
        func fail(_ reason: String) -> ConfigurationError {
            ConfigurationError(setting: Settings.signingKeys.name, reason: reason)
        }
        guard let entries = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: String]],
            !entries.isEmpty
        else {
            throw fail("must be a non-empty JSON array of objects with string values")
        }
        var seen = Set<String>()
        var keys: [SigningKey] = []
        for (index, entry) in entries.enumerated() {
            guard let kid = entry["kid"], !kid.isEmpty, kid.count <= 64,
                kid.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) })
            else {
                throw fail("entry \(index): `kid` must be 1 to 64 characters of A-Z a-z 0-9 . _ -")
            }
            guard seen.insert(kid).inserted else { throw fail("entry \(index): duplicate kid \(kid)") }
            guard let algText = entry["alg"], let alg = SigningAlgorithm(rawValue: algText) else {
                throw fail("key \(kid): `alg` must be HS256, ES256, EdDSA or RS256")
            }
            do {
                switch alg {
                case .hs256:
                    guard let secret = entry["secret"], secret.utf8.count >= SecretBytes.minimumCount else {
                        throw fail("key \(kid): HS256 needs `secret` of at least \(SecretBytes.minimumCount) bytes")
                    }
                    keys.append(await .hmac(SecretBytes(secret), kid: kid))
                case .rs256:
                    guard entry["private_key"] == nil, let pem = entry["public_key"] else {
                        throw fail("key \(kid): RS256 keys only verify here: give `public_key` (PEM)")
                    }
                    keys.append(try await .rs256(pem: pem, kid: kid))
                case .es256, .edDSA:
                    let isPrivate = entry["private_key"] != nil
                    guard let pem = entry["private_key"] ?? entry["public_key"] else {
                        throw fail("key \(kid): needs `private_key` or `public_key` (PEM)")
                    }
                    keys.append(
                        alg == .es256
                            ? try await .es256(pem: pem, kid: kid, isPrivate: isPrivate)
                            : try await .edDSA(pem: pem, kid: kid, isPrivate: isPrivate))
                }
            } catch let error as ConfigurationError {
                throw error
            } catch {
                throw fail("key \(kid): the PEM could not be read as an \(alg.rawValue) key")
            }
        }
        return keys
    }
}
