import Crypto
import Foundation
import Hummingbird
import SidecarCore
import TestSupport
import Testing
import Valkey

@testable import AuthPluginKit

@Suite("REST-auth under hostile input, with a real Valkey", .timeLimit(.minutes(3)))
struct RESTAuthHostileInputTests {
    @Test("hostile JWTs as the auth secret: each gets its generic err, and nothing is fetched for jku/x5u")
    func tokenCorpus() async throws {
        let url = try testValkeyURL()
        let confusionKey = P256.Signing.PrivateKey().publicKey
        var environment = baseEnvironment(valkeyURL: url)
        environment["JWT_SIGNING_KEYS"] =
            #"[{"kid": "ec-1", "alg": "ES256", "public_key": \#(String(reflecting: confusionKey.pemRepresentation))}]"#
        // Large enough for the 100 KB tokens to reach the verifier instead of the body limit.
        environment["REST_AUTH_MAX_BODY_BYTES"] = "1048576"
        let listener = try CountingListener()
        try await withValkeyClient(try ValkeyConfiguration(url: url)) { valkey in
            let uid = randomUID()
            let (token, _) = try await gatewayToken(uid: uid, environment: environment, store: ValkeyTokenStore(client: valkey))
            let tokens = try await TokenService(settings: try await configuration(environment).jwt)
            let (refresh, _) = try await tokens.issueRefreshToken(userID: "usr" + uid, refreshID: "r1", familyID: "f1")
            let valid = try #require(HostileJWTCorpus.claims(of: token))
            let secret = Array(accessSecret.utf8)
            let corpus = HostileJWTCorpus.tokens(
                valid: valid, secret: secret, confusionKey: confusionKey, confusionKID: "ec-1", refreshToken: refresh,
                fetchURL: "http://127.0.0.1:\(listener.port)\(listener.uniquePath)")
            // The control: the same claims signed by hand with ACCESS_SECRET log the user in.
            let control = signHS256(header: ["alg": "HS256"], claims: valid, secret: secret)
            try await withAuthPlugin(environment) { client in
                let accepted = try await client.call("auth", ["secret": secretField(control)])
                #expect((accepted["rec"] as? [String: Any])?["uid"] as? String == uid, "control: \(accepted)")
                for hostile in corpus {
                    let answer = try await client.call("auth", ["secret": secretField(hostile.token)])
                    #expect(answer as NSDictionary == ["err": hostile.refusal.rawValue], "\(hostile.name): \(answer)")
                }
            }
        }
        #expect(listener.fetchesSoFar() == 0, "a jku, x5u or kid URL was fetched")
    }

    @Test("bad bodies: truncated, deeply nested, mistyped, invalid UTF-8: HTTP 200 {\"err\":\"malformed\"}")
    func badBodies() async throws {
        try await withAuthPlugin(baseEnvironment(valkeyURL: try testValkeyURL())) { client in
            let notUTF8 = Data([0xFF, 0xFE, 0xC0, 0x80]).base64EncodedString()
            let bodies: [(String, [UInt8])] = [
                ("truncated", Array(#"{"endpoint":"auth","secret":"#.utf8)),
                ("60 000 brackets", Array(String(repeating: "[", count: 60_000).utf8)),
                ("nested objects", Array((String(repeating: #"{"a":"#, count: 10_000) + "1" + String(repeating: "}", count: 10_000)).utf8)),
                (
                    "nested secret",
                    Array(
                        (#"{"endpoint":"auth","secret":"# + String(repeating: "[", count: 20_000) + String(repeating: "]", count: 20_000)
                            + "}").utf8)
                ),
                ("endpoint a number", Array(#"{"endpoint":7}"#.utf8)),
                ("secret a number", Array(#"{"endpoint":"auth","secret":42}"#.utf8)),
                ("rec a string", Array(#"{"endpoint":"link","rec":"x","secret":"eA=="}"#.utf8)),
                ("tags not strings", Array(#"{"endpoint":"link","rec":{"uid":"LELEQHDWbgY","tags":[1,{}]},"secret":"eA=="}"#.utf8)),
                ("secret not base64", Array(#"{"endpoint":"auth","secret":"not base64!"}"#.utf8)),
                ("secret of invalid UTF-8", Array(#"{"endpoint":"auth","secret":"\#(notUTF8)"}"#.utf8)),
                (
                    "invalid UTF-8 in the body",
                    Array(#"{"endpoint":"auth","secret":""#.utf8) + [0xFF, 0xFE, 0xC0, 0x80] + Array(#""}"#.utf8)
                ),
                ("lone surrogate escape", Array(#"{"endpoint":"auth","secret":"\ud800"}"#.utf8)),
                ("NaN", Array(#"{"endpoint":"auth","secret":NaN}"#.utf8)),
                ("huge number", Array(("{\"endpoint\":\"auth\",\"secret\":1" + String(repeating: "0", count: 5000) + "}").utf8)),
                ("trailing garbage", Array(#"{"endpoint":"auth"} {"#.utf8)),
            ]
            for (name, body) in bodies {
                let reply = try await client.client.execute(
                    uri: "/auth", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(bytes: body)
                ) { response in (Int(response.status.code), String(buffer: response.body)) }
                #expect(reply.0 == 200 && reply.1 == #"{"err":"malformed"}"#, "\(name): \(reply.0) \(reply.1.prefix(200))")
            }
        }
    }

    @Test("a 10 MB body is refused with 413 after the first REST_AUTH_MAX_BODY_BYTES")
    func tenMegabyteBodies() async throws {
        try await withAuthPlugin(baseEnvironment(valkeyURL: try testValkeyURL())) { client in
            let port = try #require(client.client.port)
            let length = 10 * 1024 * 1024
            let heads = [
                "POST /auth HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(length)\r\n\r\n",
                "POST /auth HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
            ]
            for (index, head) in heads.enumerated() {
                let (answer, sent) = try await HostileHTTP.tenMegabytes(port: port, head: head, chunked: index == 1)
                #expect(answer.hasPrefix("HTTP/1.1 413"), "\(answer.prefix(120))")
                #expect(sent < length / 2, "answered only after \(sent) bytes")
            }
            #expect(try await client.call("rtagns", [:]) as NSDictionary == ["strarr": ["rest"]])
        }
    }

    @Test("slow clients are cut off at HTTP_REQUEST_TIMEOUT_SECONDS; header floods get a clean 400")
    func slowClientsAndHeaderFloods() async throws {
        var environment = baseEnvironment(valkeyURL: try testValkeyURL())
        environment["HTTP_REQUEST_TIMEOUT_SECONDS"] = "2"
        try await withAuthPlugin(environment) { client in
            let port = try #require(client.client.port)
            for slow in try await HostileHTTP.slowClients(port: port, path: "/auth") {
                #expect(slow.closed, "slow \(slow.what) were never cut off")
                #expect(slow.after >= .seconds(1) && slow.after < .seconds(20), "slow \(slow.what) cut after \(slow.after)")
                #expect(slow.bytesTrickled < 40, "slow \(slow.what): \(slow.bytesTrickled) bytes before the cut")
            }
            for answer in try await HostileHTTP.headerFloods(port: port, path: "/auth") {
                #expect(
                    answer.text.hasPrefix("HTTP/1.1 400") || answer.text.hasPrefix("HTTP/1.1 431"),
                    "\(answer.text.prefix(80).debugDescription)")
                #expect(answer.closed)
            }
            #expect(try await client.call("rtagns", [:]) as NSDictionary == ["strarr": ["rest"]])
        }
    }
}
