import Foundation
import Hummingbird
import JWTKit
import Logging
import SidecarCore
import Synchronization
import Testing

@testable import AuthPluginKit

/// An issuer that publishes its keys at a JWKS URL, served over real HTTP on loopback.
final class PublishedKeys: Sendable {
    struct Key: Sendable {
        let kid: String
        let privateKey: JWTKit.Insecure.RSA.PrivateKey
    }

    private let state = Mutex<(published: [Key], fetches: Int, available: Bool)>(([], 0, true))

    /// One of the fixed test keys (0, 1 or 2) under the given `kid`.
    static func makeKey(kid: String, number: Int) throws -> Key {
        Key(kid: kid, privateKey: try TestRSAKeys.key(number))
    }

    func publish(_ keys: [Key]) { state.withLock { $0.published = keys } }
    func setAvailable(_ available: Bool) { state.withLock { $0.available = available } }
    var fetches: Int { state.withLock { $0.fetches } }

    /// The JWKS document; each key as an RSA JWK without `alg` (as many issuers publish them).
    func document() throws -> (status: HTTPResponse.Status, body: String) {
        let (keys, available) = state.withLock { state in
            state.fetches += 1
            return (state.published, state.available)
        }
        guard available else { return (.serviceUnavailable, "down") }
        let entries = try keys.map { key -> [String: String] in
            let (modulus, exponent) = try key.privateKey.publicKey.getKeyPrimitives()
            return ["kty": "RSA", "use": "sig", "kid": key.kid, "n": modulus.base64URL, "e": exponent.base64URL]
        }
        // An encryption key in the same set must be ignored, not break the set.
        let all: [[String: String]] = entries + [["kty": "RSA", "use": "enc", "kid": "enc-1", "n": "AQAB", "e": "AQAB"]]
        let data = try JSONSerialization.data(withJSONObject: ["keys": all])
        return (.ok, String(decoding: data, as: UTF8.self))
    }

    /// Serves `/jwks.json` on a free loopback port while `body` runs.
    func serve(_ body: @escaping @Sendable (_ url: String) async throws -> Void) async throws {
        let router = Router()
        router.get("/jwks.json") { _, _ -> Response in
            let (status, body) = try self.document()
            return Response(
                status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        let port = Mutex<Int?>(nil)
        var quiet = Logger(label: "jwks-test-issuer")
        quiet.logLevel = .critical
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in port.withLock { $0 = channel.localAddress?.port } }, logger: quiet)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService() }
            var bound: Int?
            for _ in 0..<200 {
                bound = port.withLock { $0 }
                if bound != nil { break }
                try await Task.sleep(for: .milliseconds(10))
            }
            let url = "http://127.0.0.1:\(try #require(bound))/jwks.json"
            do {
                try await body(url)
            } catch {
                group.cancelAll()
                throw error
            }
            group.cancelAll()
        }
    }
}

/// An RS256 token from the external issuer, signed with `key`.
func rs256Token(email: String, key: PublishedKeys.Key, kid: String? = nil) async throws -> String {
    let keys = JWTKeyCollection()
    await keys.add(rsa: key.privateKey, digestAlgorithm: .sha256, kid: JWKIdentifier(string: kid ?? key.kid))
    let claims = ExternalTokenClaims(email: email)
    return try await keys.sign(claims, kid: JWKIdentifier(string: kid ?? key.kid))
}

extension ExternalTokenClaims {
    init(email: String) {
        let json = """
            {"sub":"backend-\(email)","email":"\(email)","iss":"\(externalIssuer)","exp":\(Int(Date().timeIntervalSince1970) + 600)}
            """
        self = try! JSONDecoder().decode(ExternalTokenClaims.self, from: Data(json.utf8))
    }
}

extension Data {
    fileprivate var base64URL: String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

@Suite("REST-auth with the external issuer's keys from a JWKS URL")
struct RESTAuthJWKSTests {
    func environment(jwksURL: String) throws -> [String: String] {
        var environment = baseEnvironment(valkeyURL: try testValkeyURL())
        environment["EXTERNAL_JWT_KEYS"] = nil
        environment["EXTERNAL_JWT_JWKS_URL"] = jwksURL
        // The first token waits for the first fetch; on a machine busy with other tests that can take
        // longer than the default 2 s answer deadline, which would turn the answers under test into
        // `internal`.
        environment["REST_AUTH_TIMEOUT_MS"] = "8000"
        return environment
    }

    @Test("an RS256 token whose key is published logs in; a key rotated in is fetched at once")
    func rotation() async throws {
        let issuer = PublishedKeys()
        let first = try PublishedKeys.makeKey(kid: "2026-a", number: 0)
        let second = try PublishedKeys.makeKey(kid: "2026-b", number: 1)
        issuer.publish([first])
        try await issuer.serve { url in
            try await withAuthPlugin(try environment(jwksURL: url)) { client in
                let email = uniqueEmail()
                let answer = try await client.call("auth", ["secret": secretField(try await rs256Token(email: email, key: first))])
                #expect(answer["newacc"] != nil, "\(answer)")
                #expect((answer["rec"] as? [String: Any])?["tags"] as? [String] != nil)
                #expect(issuer.fetches == 1)

                // The issuer rotates: tokens signed with the new key name a kid we do not hold yet.
                issuer.publish([first, second])
                let rotated = try await client.call("auth", ["secret": secretField(try await rs256Token(email: email, key: second))])
                #expect(rotated["newacc"] != nil, "\(rotated)")
                #expect(issuer.fetches == 2)

                // Tokens with made-up kids are refused without sending the issuer one request each.
                for index in 0..<5 {
                    let forged = try await rs256Token(email: email, key: first, kid: "made-up-\(index)")
                    #expect(try await client.call("auth", ["secret": secretField(forged)]) as NSDictionary == ["err": "failed"])
                }
                #expect(issuer.fetches == 2)
                // The first key still works from what is held.
                let again = try await client.call("auth", ["secret": secretField(try await rs256Token(email: email, key: first))])
                #expect(again["newacc"] != nil)
            }
        }
    }

    @Test("a key the issuer does not publish is refused with `failed`; an HS256 header on an RSA key too")
    func unpublishedKey() async throws {
        let issuer = PublishedKeys()
        let published = try PublishedKeys.makeKey(kid: "published", number: 0)
        let stranger = try PublishedKeys.makeKey(kid: "published", number: 2)
        issuer.publish([published])
        try await issuer.serve { url in
            try await withAuthPlugin(try environment(jwksURL: url)) { client in
                let email = uniqueEmail()
                let forged = try await rs256Token(email: email, key: stranger)
                #expect(try await client.call("auth", ["secret": secretField(forged)]) as NSDictionary == ["err": "failed"])
                // Algorithm confusion: the RSA key's public bytes used as an HMAC secret.
                let confused = externalToken(
                    email: email, secret: "anything", header: ["alg": "HS256", "kid": "published", "typ": "JWT"])
                #expect(try await client.call("auth", ["secret": secretField(confused)]) as NSDictionary == ["err": "failed"])
            }
        }
    }

    @Test("while the JWKS cannot be fetched and no key is held, external tokens get `internal`; one retry once it is back")
    func issuerDown() async throws {
        let issuer = PublishedKeys()
        let key = try PublishedKeys.makeKey(kid: "k1", number: 1)
        issuer.publish([key])
        issuer.setAvailable(false)
        try await issuer.serve { url in
            try await withAuthPlugin(try environment(jwksURL: url)) { client in
                let token = try await rs256Token(email: uniqueEmail(), key: key)
                #expect(try await client.call("auth", ["secret": secretField(token)]) as NSDictionary == ["err": "internal"])
                #expect(issuer.fetches == 1)
                issuer.setAvailable(true)
                // The next token we cannot check fetches again, once; then the key is held.
                #expect(try await client.call("auth", ["secret": secretField(token)])["newacc"] != nil)
                #expect(issuer.fetches == 2)
                // Made-up kids right after that forced fetch do not make the issuer answer again.
                let forged = try await rs256Token(email: uniqueEmail(), key: key, kid: "made-up")
                #expect(try await client.call("auth", ["secret": secretField(forged)]) as NSDictionary == ["err": "failed"])
                #expect(issuer.fetches == 2)
            }
        }
    }

    @Test("EXTERNAL_JWT_KEYS takes an RS256 public key (PEM) too; an RS256 private key is refused at start")
    func rs256InKeys() async throws {
        let key = try PublishedKeys.makeKey(kid: "pem-1", number: 2)
        var environment = baseEnvironment(valkeyURL: try testValkeyURL())
        let publicEntry: [String: String] = ["kid": "pem-1", "alg": "RS256", "public_key": key.privateKey.publicKey.pemRepresentation]
        environment["EXTERNAL_JWT_KEYS"] = String(decoding: try JSONSerialization.data(withJSONObject: [publicEntry]), as: UTF8.self)
        try await withAuthPlugin(environment) { client in
            let answer = try await client.call("auth", ["secret": secretField(try await rs256Token(email: uniqueEmail(), key: key))])
            #expect(answer["newacc"] != nil, "\(answer)")
        }
        let privateEntry: [String: String] = ["kid": "pem-1", "alg": "RS256", "private_key": key.privateKey.pemRepresentation]
        environment["EXTERNAL_JWT_KEYS"] = String(decoding: try JSONSerialization.data(withJSONObject: [privateEntry]), as: UTF8.self)
        await #expect(throws: ConfigurationError.self) {
            try await withAuthPlugin(environment) { _ in }
        }
    }
}
