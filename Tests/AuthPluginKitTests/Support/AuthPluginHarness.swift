import AuthPluginKit
import Crypto
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import SidecarCore
import SidecarServer
import TestSupport
import Testing

/// The HS256 key and issuer of the "self-hoster's backend" in these tests.
let externalSecret = "external-backend-secret-0123456789abcdef"
let externalIssuer = "https://backend.example"
let accessSecret = "gateway-access-secret-0123456789abcdef!!"

/// The Valkey server `scripts/test` started; the tests need it and say so when it is missing.
func testValkeyURL(sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
    guard let url = ProcessInfo.processInfo.environment["VALKEY_TEST_URL"], !url.isEmpty else {
        Issue.record("VALKEY_TEST_URL is not set: run scripts/test, which starts redis-server", sourceLocation: sourceLocation)
        throw CancellationError()
    }
    return url
}

/// The settings every test starts from: our Gateway tokens, one external issuer, a real Valkey.
func baseEnvironment(valkeyURL: String) -> [String: String] {
    [
        "AUTHPLUGIN_HTTP_ADDR": "127.0.0.1:0", "AUTHPLUGIN_GRPC_ADDR": "127.0.0.1:0", "ACCESS_SECRET": accessSecret,
        "REFRESH_SECRET": accessSecret + "-refresh",
        "VALKEY_URL": valkeyURL, "EXTERNAL_JWT_ISSUER": externalIssuer,
        "EXTERNAL_JWT_KEYS": #"[{"kid": "backend-1", "alg": "HS256", "secret": "\#(externalSecret)"}]"#,
        "SIDECAR_SECRETS_DIR": "/nonexistent-sidecar-secrets", "LOG_LEVEL": "error",
    ]
}

func configuration(_ environment: [String: String]) async throws -> SidecarConfiguration {
    try SidecarConfiguration(reader: try await ConfigurationSources.makeReader(environment: environment))
}

/// Runs the real AuthPlugin application on a loopback port and hands `body` a client.
func withAuthPlugin(
    _ environment: [String: String], logger: Logger? = nil, _ body: @escaping @Sendable (AuthPluginClient) async throws -> Void
) async throws {
    let configuration = try await configuration(environment)
    Observability.bootstrap(logLevel: .error)
    var quiet = Logger(label: "AuthPluginTest")
    quiet.logLevel = .error
    let app = try await buildAuthPluginApplication(configuration: configuration, logger: logger ?? quiet)
    try await app.test(.live) { client in
        try await body(AuthPluginClient(client: client))
    }
}

/// Posts REST-auth requests and returns what Tinode would parse.
struct AuthPluginClient: Sendable {
    let client: any TestClientProtocol

    /// POSTs `body` verbatim; returns the HTTP status and the JSON object (nil when not JSON).
    func post(_ path: String, raw body: String) async throws -> (status: Int, json: [String: Any]?, text: String) {
        try await client.execute(uri: path, method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: body)) {
            response in
            let text = String(buffer: response.body)
            let json = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
            return (Int(response.status.code), json, text)
        }
    }

    /// POSTs a request object to `/<endpoint>` and expects HTTP 200 with a JSON object.
    func call(_ endpoint: String, _ request: [String: Any], path: String? = nil) async throws -> [String: Any] {
        var request = request
        request["endpoint"] = request["endpoint"] ?? endpoint
        request["name"] = request["name"] ?? "rest"
        let body = String(decoding: try JSONSerialization.data(withJSONObject: request), as: UTF8.self)
        let (status, json, text) = try await post(path ?? "/\(endpoint)", raw: body)
        #expect(status == 200, "HTTP \(status): \(text)")
        return try #require(json, "not a JSON object: \(text)")
    }
}

/// Standard base64 of a secret, as Tinode sends it.
func secretField(_ token: String) -> String { Data(token.utf8).base64EncodedString() }

/// A JWT of the external backend (HS256, kid backend-1) with the given claims. The subject defaults to
/// one derived from the address (one backend user per address); `verified` is put in `email_verified`
/// as given (`true`, `"true"`, `false`...) and left out when nil; `extra` claims are added and
/// `omitting` claims removed last.
func externalToken(
    email: String, name: String? = "Alice Example", expiresIn: TimeInterval = 600, issuer: String = externalIssuer,
    secret: String = externalSecret, header: [String: Any] = ["alg": "HS256", "kid": "backend-1", "typ": "JWT"],
    subject: String? = nil, verified: Any? = nil, extra: [String: Any] = [:], omitting: Set<String> = []
) -> String {
    var claims: [String: Any] = [
        "sub": subject ?? "backend-user-\(email)", "email": email, "iss": issuer, "exp": Int(Date().timeIntervalSince1970 + expiresIn),
    ]
    if let name { claims["name"] = name }
    if let verified { claims["email_verified"] = verified }
    claims.merge(extra) { _, new in new }
    for claim in omitting { claims[claim] = nil }
    return signHS256(header: header, claims: claims, secret: Array(secret.utf8))
}

/// A fresh random Tinode-shaped uid (11 base64url characters).
func randomUID() -> String {
    base64URL(Data((0..<8).map { _ in UInt8.random(in: 0...255) }))
}

/// A fresh e-mail address, so tests sharing one Valkey never collide.
func uniqueEmail(_ tag: String = "user") -> String { "\(tag).\(UUID().uuidString.prefix(8).lowercased())@example.com" }
