import Foundation
import SidecarCore
import TestSupport
import Testing
import Valkey

@testable import AuthPluginKit

/// Issues a Gateway access token and stores its `access_id`, as the Gateway's login does.
func gatewayToken(uid: String, environment: [String: String], store: any TokenStore) async throws -> (token: String, accessID: String) {
    let tokens = try await TokenService(settings: try await configuration(environment).jwt)
    let accessID = TokenService.randomID()
    let (token, claims) = try await tokens.issueAccessToken(userID: "usr" + uid, accessID: accessID)
    let record = TokenRecord(
        accessID: accessID, userID: "usr" + uid, tinodeToken: "dGlub2Rl", tinodeTokenExpires: claims.expiresAt, createdAt: Date())
    try await store.put(record, ttl: .seconds(600))
    return (token, accessID)
}

@Suite("REST-auth endpoints over HTTP, with a real Valkey")
struct RESTAuthEndpointTests {
    @Test("rtagns answers the restricted namespaces in both modes and under the prefix")
    func rtagns() async throws {
        var environment = baseEnvironment(valkeyURL: try testValkeyURL())
        environment["REST_AUTH_PATH_PREFIX"] = "/tinode/"
        environment["REST_AUTH_RESTRICTED_NAMESPACES"] = "rest, Corp"
        try await withAuthPlugin(environment) { client in
            for path in ["/", "/rtagns", "/tinode", "/tinode/rtagns"] {
                let answer = try await client.call("rtagns", [:], path: path)
                #expect(answer as NSDictionary == ["strarr": ["rest", "corp"]], "\(path)")
            }
        }
    }

    @Test("A Gateway token logs its user in until its access id is revoked")
    func gatewayTokenAndRevocation() async throws {
        let url = try testValkeyURL()
        let environment = baseEnvironment(valkeyURL: url)
        try await withValkeyClient(try ValkeyConfiguration(url: url)) { valkey in
            let store = ValkeyTokenStore(client: valkey)
            let uid = randomUID()
            let (token, accessID) = try await gatewayToken(uid: uid, environment: environment, store: store)
            try await withAuthPlugin(environment) { client in
                let request: [String: Any] = ["secret": secretField(token), "addr": "127.0.0.1:5555"]
                let answer = try await client.call("auth", request)
                #expect(answer as NSDictionary == ["rec": ["uid": uid, "authlvl": "auth", "features": "V", "state": "undef"]])
                #expect(tinodeProblems(endpoint: "auth", status: 200, json: answer).isEmpty)
                // Single-endpoint mode: the same request to POST /.
                #expect(try await client.call("auth", request, path: "/") as NSDictionary == answer as NSDictionary)

                try await store.delete(accessID: accessID)
                #expect(try await client.call("auth", request) as NSDictionary == ["err": "expired"])

                let metrics = try await client.client.execute(uri: "/metrics", method: .get) { String(buffer: $0.body) }
                #expect(metrics.contains(#"authplugin_rest_requests_total{endpoint="auth",result="ok"}"#))
                #expect(metrics.contains(#"authplugin_rest_requests_total{endpoint="auth",result="expired"}"#))
                #expect(metrics.contains(#"authplugin_rest_request_duration_seconds_bucket{endpoint="auth""#))
            }
        }
    }

    @Test("New external user: auth answers newacc, link stores the uid, the next auth knows the user")
    func newAccountSequence() async throws {
        let environment = baseEnvironment(valkeyURL: try testValkeyURL())
        let email = uniqueEmail("alice")
        let login = try LoginNameMapper().loginName(for: email)
        // Verified, so its rec carries the `email:` tag (RESTAuthExternalIdentityTests has the unverified case).
        let token = externalToken(email: email.uppercased(), name: "Alice Example", verified: true)
        try await withAuthPlugin(environment) { client in
            let first = try await client.call("auth", ["secret": secretField(token), "addr": "[::1]:4000"])
            #expect(
                first as NSDictionary == [
                    "rec": ["authlvl": "auth", "features": "V", "state": "ok", "tags": ["email:\(email)", "rest:\(login)"]],
                    "newacc": ["auth": "JRWPAS", "anon": "N", "public": ["fn": "Alice Example"]],
                ])
            #expect(tinodeProblems(endpoint: "auth", status: 200, json: first).isEmpty)

            // Tinode creates the user and sends back our rec with the new uid, lifetime in ns, State capitalised.
            let uid = randomUID()
            let rec: [String: Any] = [
                "uid": uid, "authlvl": "auth", "lifetime": 0, "features": "V", "tags": ["email:\(email)", "rest:\(login)"], "State": "ok",
            ]
            #expect(try await client.call("link", ["rec": rec, "secret": secretField(token)]) as NSDictionary == [:])
            // Idempotent for the same pair; a conflicting uid is a duplicate.
            #expect(try await client.call("link", ["rec": rec, "secret": secretField(token)]) as NSDictionary == [:])
            var other = rec
            other["uid"] = randomUID()
            #expect(
                try await client.call("link", ["rec": other, "secret": secretField(token)]) as NSDictionary == ["err": "duplicate value"])

            let again = try await client.call("auth", ["secret": secretField(token), "addr": "[::1]:4001"])
            #expect(again as NSDictionary == ["rec": ["uid": uid, "authlvl": "auth", "features": "V", "state": "undef"]])
            #expect(try await client.call("checkunique", ["secret": secretField(token)]) as NSDictionary == ["err": "duplicate value"])
        }
    }

    @Test("{acc scheme:rest}: checkunique, add, upd re-links, del unlinks and revokes")
    func accountPath() async throws {
        let url = try testValkeyURL()
        let environment = baseEnvironment(valkeyURL: url)
        let email = uniqueEmail("bob")
        let token = externalToken(email: email, name: nil)
        let uid = randomUID()
        try await withValkeyClient(try ValkeyConfiguration(url: url)) { valkey in
            let store = ValkeyTokenStore(client: valkey)
            try await withAuthPlugin(environment) { client in
                let unique = try await client.call("checkunique", ["secret": secretField(token), "addr": "127.0.0.1:1"])
                #expect(unique as NSDictionary == ["boolval": true])
                #expect(tinodeProblems(endpoint: "checkunique", status: 200, json: unique).isEmpty)

                let add = try await client.call("add", ["rec": ["uid": uid, "tags": ["x"], "State": "ok"], "secret": secretField(token)])
                let login = try LoginNameMapper().loginName(for: email)
                // The token does not say its address is verified: no `email:` tag.
                #expect(add as NSDictionary == ["rec": ["uid": uid, "authlvl": "auth", "features": "V", "tags": ["rest:\(login)"]]])
                #expect(tinodeProblems(endpoint: "add", status: 200, json: add).isEmpty)
                let auth = try await client.call("auth", ["secret": secretField(token)])
                #expect((auth["rec"] as? [String: Any])?["uid"] as? String == uid)

                // upd with a token of another subject moves the uid to it; the old subject is free again.
                let newEmail = uniqueEmail("bob-new")
                let newToken = externalToken(email: newEmail)
                let upd = try await client.call(
                    "upd", ["rec": ["uid": uid, "tags": ["rest:x"], "State": "ok"], "secret": secretField(newToken)])
                #expect(upd as NSDictionary == [:])
                #expect(try await client.call("checkunique", ["secret": secretField(token)]) as NSDictionary == ["boolval": true])
                #expect(
                    (try await client.call("auth", ["secret": secretField(newToken)])["rec"] as? [String: Any])?["uid"] as? String == uid)

                // del: links gone, every access id of the user revoked, and `{}` so that Tinode proceeds
                // (RESTAuthExternalIdentityTests checks that del also forgets the user's proofs).
                let (gateway, _) = try await gatewayToken(uid: uid, environment: environment, store: store)
                #expect(
                    (try await client.call("auth", ["secret": secretField(gateway)])["rec"] as? [String: Any])?["uid"] as? String == uid)
                #expect(try await client.call("del", ["rec": ["uid": uid, "State": "ok"]]) as NSDictionary == [:])
                #expect(try await client.call("auth", ["secret": secretField(gateway)]) as NSDictionary == ["err": "expired"])
                #expect(try await client.call("checkunique", ["secret": secretField(newToken)]) as NSDictionary == ["boolval": true])
            }
        }
    }

    @Test("Each token rejection maps to the right Tinode error")
    func tokenRejections() async throws {
        var environment = baseEnvironment(valkeyURL: try testValkeyURL())
        environment["REST_AUTH_ALLOW_NEW_ACCOUNTS"] = "false"
        let email = uniqueEmail("carol")
        let cases: [(String, String)] = [
            (externalToken(email: email, expiresIn: -60), "expired"),
            (externalToken(email: email, secret: "a-different-secret-0123456789abcdef"), "failed"),
            (externalToken(email: email, issuer: "https://stranger.example"), "failed"),
            (externalToken(email: email, header: ["alg": "none", "kid": "backend-1"]), "failed"),
            (externalToken(email: email, header: ["alg": "HS256", "kid": "unknown"]), "failed"),
            (externalToken(email: "not-an-address"), "failed"),
            ("not a jwt", "malformed"),
            ("a.b.c", "malformed"),
            (externalToken(email: email), "not found"),  // unknown user and no new accounts
        ]
        try await withAuthPlugin(environment) { client in
            for (token, expected) in cases {
                let answer = try await client.call("auth", ["secret": secretField(token)])
                #expect(answer as NSDictionary == ["err": expected], "\(token.prefix(30))")
            }
            #expect(try await client.call("auth", [:]) as NSDictionary == ["err": "malformed"])
        }
    }

    @Test("Bad bodies, unknown endpoints and gen: HTTP 200 with an err Tinode maps; oversized: 413")
    func badInput() async throws {
        var environment = baseEnvironment(valkeyURL: try testValkeyURL())
        environment["REST_AUTH_MAX_BODY_BYTES"] = "4096"
        try await withAuthPlugin(environment) { client in
            let cases: [(String, String, String)] = [
                ("/auth", "this is not json", "malformed"), ("/auth", "", "malformed"), ("/auth", "[]", "malformed"),
                ("/auth", #"{"endpoint":"auth","secret":42}"#, "malformed"), ("/auth", #"{"endpoint":"link"}"#, "malformed"),
                ("/link", #"{"endpoint":"link","rec":{"uid":"short"},"secret":"eA=="}"#, "malformed"),
                ("/link", #"{"endpoint":"link","rec":{"uid":""},"secret":"eA=="}"#, "malformed"),
                ("/del", #"{"endpoint":"del","rec":{"State":"ok"}}"#, "malformed"),
                ("/frobnicate", #"{"endpoint":"frobnicate"}"#, "unsupported"), ("/", #"{"endpoint":"frobnicate"}"#, "unsupported"),
                ("/gen", #"{"endpoint":"gen","rec":{"uid":"LELEQHDWbgY"}}"#, "unsupported"),
                ("/auth", #"{"endpoint":"link","rec":{"uid":"LELEQHDWbgY"}}"#, "malformed"),
            ]
            for (path, body, expected) in cases {
                let (status, json, text) = try await client.post(path, raw: body)
                #expect(status == 200, "\(path) \(body)")
                #expect(json as NSDictionary? == ["err": expected], "\(path) \(body) -> \(text)")
            }
            let (status, _, _) = try await client.post(
                "/auth", raw: #"{"endpoint":"auth","secret":""# + String(repeating: "A", count: 8000) + #""}"#)
            #expect(status == 413)
        }
    }

    @Test("Callers outside AUTHPLUGIN_ALLOWED_NETWORKS are refused; health stays reachable")
    func allowList() async throws {
        var environment = baseEnvironment(valkeyURL: try testValkeyURL())
        environment["AUTHPLUGIN_ALLOWED_NETWORKS"] = "10.0.0.0/8, fd00::/8"
        try await withAuthPlugin(environment) { client in
            let (status, _, _) = try await client.post("/rtagns", raw: #"{"endpoint":"rtagns","name":"rest"}"#)
            #expect(status == 403)
            let health = try await client.client.execute(uri: "/healthz", method: .get) { Int($0.status.code) }
            #expect(health == 200)
        }
    }
}
