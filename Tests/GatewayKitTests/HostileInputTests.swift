import Crypto
import Foundation
import Hummingbird
import HummingbirdWSTesting
import Synchronization
import TestSupport
import Testing

@testable import GatewayKit

/// The Gateway's `ACCESS_SECRET` in `GatewayHarness`.
private let gatewaySecret = Array("gateway-test-access-secret-0123456789ab".utf8)
/// A verify-only ES256 key of the Gateway in these tests: the target of algorithm confusion.
private let confusionKey = P256.Signing.PrivateKey().publicKey
private let confusionKeys = #"[{"kid": "ec-1", "alg": "ES256", "public_key": \#(String(reflecting: confusionKey.pemRepresentation))}]"#

@Suite("Gateway under hostile input", .timeLimit(.minutes(3)))
struct GatewayHostileInputTests {
    @Test("hostile bearer tokens: every one gets the same 401 invalid_token, and nothing is fetched for jku/x5u")
    func tokenCorpus() async throws {
        let listener = try CountingListener()
        let environment = ["JWT_SIGNING_KEYS": confusionKeys, "HTTP_REQUEST_TIMEOUT_SECONDS": "3"]
        try await GatewayHarness.run(extraEnvironment: environment) { gateway in
            let (_, tokens) = try await gateway.register("mallory")
            let access = try #require(tokens["access_token"] as? String)
            let refresh = try #require(tokens["refresh_token"] as? String)
            let valid = try #require(HostileJWTCorpus.claims(of: access))
            // The control: a hand-made token with the same claims and our secret is accepted, so each
            // refusal below is caused by the one thing that differs.
            let control = signHS256(header: ["alg": "HS256"], claims: valid, secret: gatewaySecret)
            #expect(try await gateway.request(.get, "/v1/me", token: control).status == 200)

            let generic = try await gateway.request(.get, "/v1/me")
            #expect(generic.status == 401 && generic.errorCode == "invalid_token")
            let corpus = HostileJWTCorpus.tokens(
                valid: valid, secret: gatewaySecret, confusionKey: confusionKey, confusionKID: "ec-1", refreshToken: refresh,
                fetchURL: "http://127.0.0.1:\(listener.port)\(listener.uniquePath)")
            for hostile in corpus where hostile.token.utf8.count < 80_000 {
                let reply = try await gateway.request(.get, "/v1/me", token: hostile.token)
                #expect(reply.status == 401, "\(hostile.name): HTTP \(reply.status)")
                #expect(reply.text == generic.text, "\(hostile.name): \(reply.text)")
            }
            // Larger than the HTTP parser takes for one header: refused before any code of ours runs.
            // The Gateway's WebSocket-upgrade pipeline answers parser errors with nothing, so the
            // connection is cut at HTTP_REQUEST_TIMEOUT_SECONDS (3 s here) instead of getting a 400.
            for hostile in corpus where hostile.token.utf8.count >= 80_000 {
                let answer = try await HostileHTTP.request(
                    port: gateway.port, "GET /v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(hostile.token)\r\n\r\n")
                #expect(
                    answer.closed && (answer.text.isEmpty || answer.text.hasPrefix("HTTP/1.1 4")),
                    "\(hostile.name): \(answer.text.prefix(80))")
            }
            // An access token where a refresh token belongs.
            let swapped = try await gateway.request(.post, "/v1/auth/refresh", json: ["refresh_token": access])
            #expect(swapped.status == 401 && swapped.errorCode == "invalid_refresh_token")
            // The user's own token still works afterwards.
            #expect(try await gateway.request(.get, "/v1/me", token: access).status == 200)
        }
        #expect(listener.fetchesSoFar() == 0, "a jku, x5u or kid URL was fetched")
    }

    @Test("bad bodies: truncated, deeply nested, mistyped, invalid UTF-8: 400 invalid_request; no crash")
    func badBodies() async throws {
        try await GatewayHarness.run { gateway in
            let (_, tokens) = try await gateway.register("bodies")
            let token = try #require(tokens["access_token"] as? String)
            let bodies: [(String, [UInt8])] = [
                ("empty", []),
                ("truncated", Array(#"{"email":"a@example.com","password":"#.utf8)),
                ("truncated string", Array(#"{"text":"abc"#.utf8)),
                ("60 000 brackets", Array(String(repeating: "[", count: 60_000).utf8)),
                ("nested objects", Array((String(repeating: #"{"a":"#, count: 10_000) + "1" + String(repeating: "}", count: 10_000)).utf8)),
                (
                    "nested field",
                    Array((#"{"text":"# + String(repeating: "[", count: 20_000) + String(repeating: "]", count: 20_000) + "}").utf8)
                ),
                ("top-level array", Array(#"["text"]"#.utf8)),
                ("top-level string", Array(#""text""#.utf8)),
                ("number for text", Array(#"{"text":42,"email":7,"password":[]}"#.utf8)),
                ("null for text", Array(#"{"text":null}"#.utf8)),
                ("object for text", Array(#"{"text":{"$ne":""},"email":{"$gt":""},"password":{"$gt":""}}"#.utf8)),
                ("invalid UTF-8", [0x7B, 0x22, 0x74, 0x65, 0x78, 0x74, 0x22, 0x3A, 0x22, 0xFF, 0xFE, 0xC0, 0x80, 0x22, 0x7D]),
                ("lone surrogate escape", Array(#"{"text":"\ud800","email":"\udfff@x","password":"p"}"#.utf8)),
                ("NaN", Array(#"{"text":NaN}"#.utf8)),
                ("huge number", Array(("{\"text\":1" + String(repeating: "0", count: 5000) + "}").utf8)),
                ("trailing garbage", Array(#"{"text":"hi"} {"#.utf8)),
            ]
            for path in ["/v1/auth/login", "/v1/auth/register", "/v1/messages"] {
                for (name, body) in bodies {
                    let reply = try await gateway.client.execute(
                        uri: path, method: .post, headers: [.contentType: "application/json", .authorization: "Bearer \(token)"],
                        body: ByteBuffer(bytes: body)
                    ) { response in
                        GatewayHarness.Reply(
                            status: Int(response.status.code), headers: response.headers, text: String(buffer: response.body))
                    }
                    #expect(
                        reply.status == 400 && reply.errorCode == "invalid_request",
                        "\(path) \(name): \(reply.status) \(reply.text.prefix(200))")
                }
            }
            #expect(gateway.double.messages(inTopic: gateway.room).isEmpty)
            #expect(try await gateway.request(.get, "/healthz").status == 200)
        }
    }

    @Test("a 10 MB body is refused with 413 after the first 64 KiB, with Content-Length or chunked")
    func tenMegabyteBodies() async throws {
        try await GatewayHarness.run { gateway in
            let length = 10 * 1024 * 1024
            let heads = [
                "POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(length)\r\n\r\n",
                "POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
            ]
            for (index, head) in heads.enumerated() {
                let (answer, sent) = try await HostileHTTP.tenMegabytes(port: gateway.port, head: head, chunked: index == 1)
                #expect(answer.hasPrefix("HTTP/1.1 413") && answer.contains("body_too_large"), "\(answer.prefix(120))")
                #expect(sent < length / 2, "answered only after \(sent) bytes")
            }
            #expect(try await gateway.request(.get, "/healthz").status == 200)
        }
    }

    @Test("slow clients are cut off: headers or body at one byte a second, and idle connections")
    func slowClients() async throws {
        let environment = ["HTTP_REQUEST_TIMEOUT_SECONDS": "2", "HTTP_IDLE_TIMEOUT_SECONDS": "3"]
        try await GatewayHarness.run(extraEnvironment: environment) { gateway in
            for slow in try await HostileHTTP.slowClients(port: gateway.port, path: "/v1/auth/login") {
                #expect(slow.closed, "slow \(slow.what) were never cut off")
                #expect(slow.after >= .seconds(1) && slow.after < .seconds(20), "slow \(slow.what) cut after \(slow.after)")
                #expect(slow.bytesTrickled < 40, "slow \(slow.what): \(slow.bytesTrickled) bytes before the cut")
            }
            // Answered requests do not count against the deadline: a keep-alive connection serves
            // several, then closes once idle.
            let idle = try await RawConnection.run { () -> (String, Bool, Duration) in
                let connection = try RawConnection(port: gateway.port)
                connection.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                let first = connection.readResponse(timeout: .seconds(10))
                connection.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                _ = connection.readResponse(timeout: .seconds(10))
                let started = ContinuousClock.now
                let (_, closed) = connection.readUntilClosed(timeout: .seconds(30))
                return (first, closed, ContinuousClock.now - started)
            }
            #expect(idle.0.hasPrefix("HTTP/1.1 200"))
            #expect(idle.1, "an idle connection stayed open")
            #expect(idle.2 >= .seconds(2) && idle.2 < .seconds(25), "closed after \(idle.2)")
        }
    }

    @Test("streams outlive the deadlines: SSE and WebSocket stay open past them")
    func streamsAreNotCut() async throws {
        // Short, but long enough for a WebSocket upgrade (token check included) on a loaded machine.
        let environment = ["HTTP_REQUEST_TIMEOUT_SECONDS": "3", "HTTP_IDLE_TIMEOUT_SECONDS": "3"]
        try await GatewayHarness.run(extraEnvironment: environment) { gateway in
            // Each on a connection of its own too: the harness's one connection is closed by the 3 s
            // idle deadline if a loaded machine takes that long between start-up and these calls.
            let readerToken = try await Self.registerOnFreshConnection(port: gateway.port, "streamreader")
            let writerToken = try await Self.registerOnFreshConnection(port: gateway.port, "streamwriter")
            // Posted 7 s later, past both deadlines, on a connection of its own as well.
            let post = Task {
                try await Task.sleep(for: .seconds(7))
                let body = #"{"text":"after the deadlines"}"#
                return try await HostileHTTP.request(
                    port: gateway.port,
                    "POST /v1/messages HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer \(writerToken)\r\n"
                        + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
                ).text
            }
            let events = try await SSEClient.read(
                port: gateway.port, path: "/v1/messages/stream", token: readerToken, count: 1, timeout: .seconds(30))
            #expect(try await post.value.hasPrefix("HTTP/1.1 201"))
            #expect(events.map(\.data).contains { $0.contains("after the deadlines") }, "\(events)")

            let reply = Mutex<String?>(nil)
            try await gateway.client.ws("/v1/ws?access_token=\(readerToken)") { inbound, outbound, _ in
                try await Task.sleep(for: .seconds(7))
                try await outbound.write(.text(#"{"type":"send","text":"late","id":"late-1"}"#))
                for try await message in inbound.messages(maxSize: 1 << 16) {
                    guard case .text(let text) = message, text.contains("\"sent\"") else { continue }
                    reply.withLock { $0 = text }
                    break
                }
            }
            #expect(reply.withLock { $0 }?.contains("late-1") == true)
        }
    }

    @Test("thousands of headers, or one enormous header: 400 invalid_request at once and the connection ends; the server keeps serving")
    func headerFloods() async throws {
        // A request deadline far beyond the time allowed below: the answer must not wait for it.
        try await GatewayHarness.run(extraEnvironment: ["HTTP_REQUEST_TIMEOUT_SECONDS": "60"]) { gateway in
            let started = ContinuousClock.now
            for answer in try await HostileHTTP.headerFloods(port: gateway.port, path: "/v1/me") {
                #expect(answer.text.hasPrefix("HTTP/1.1 400"), "\(answer.text.prefix(80).debugDescription)")
                #expect(answer.text.contains(#""code":"invalid_request""#), "\(answer.text.debugDescription)")
                #expect(answer.closed)
            }
            #expect(ContinuousClock.now - started < .seconds(15))
            #expect(try await gateway.request(.get, "/healthz").status == 200)
        }
    }

    @Test("a request the parser refuses is answered 400 and logged at debug only: a stranger cannot write error lines at will")
    func malformedRequestsDoNotLogErrors() async throws {
        let logs = CapturedLogs()
        try await GatewayHarness.run(logger: logs.logger(label: "gateway", level: .info)) { gateway in
            for _ in 0..<3 {
                let (answer, _) = try await HostileHTTP.request(
                    port: gateway.port, "GET /v1/me HTTP/1.1\r\nHost: x\r\nX-Probe: \u{0}\r\n\r\n")
                #expect(answer.hasPrefix("HTTP/1.1 400"), "\(answer.prefix(80).debugDescription)")
            }
            #expect(try await gateway.request(.get, "/healthz").status == 200)
        }
        let errors = logs.all.filter { $0.hasPrefix("error") || $0.hasPrefix("critical") }
        #expect(errors.isEmpty, "\(errors)")
    }

    /// Registers a new user over a connection of its own (closed after the answer); its access token.
    static func registerOnFreshConnection(port: Int, _ name: String) async throws -> String {
        let email = "\(name)-\(UUID().uuidString.prefix(8).lowercased())@example.com"
        let body = #"{"email":"\#(email)","password":"secret-password","name":"\#(name)"}"#
        let (answer, _) = try await HostileHTTP.request(
            port: port,
            "POST /v1/auth/register HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n"
                + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)")
        #expect(answer.hasPrefix("HTTP/1.1 201"), "register: \(answer)")
        let json = answer.range(of: "\r\n\r\n").map { String(answer[$0.upperBound...]) } ?? ""
        let tokens = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        return try #require(tokens?["access_token"] as? String, "register: \(answer)")
    }
}
