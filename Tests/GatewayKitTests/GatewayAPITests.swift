import Foundation
import Hummingbird
import Testing
import TinodeDouble

@testable import GatewayKit

/// The HTTP API end to end: real HTTP, the real Gateway application, the Tinode double on a real
/// gRPC socket and the test redis-server.
@Suite("Gateway HTTP API", .timeLimit(.minutes(2)))
struct GatewayAPITests {
    @Test("register answers a token pair; the account exists in Tinode under the mapped login name")
    func register() async throws {
        try await GatewayHarness.run { gateway in
            let (email, tokens) = try await gateway.register("alice")
            #expect((tokens["user_id"] as? String)?.hasPrefix("usr") == true)
            #expect((tokens["login"] as? String)?.hasPrefix("alice_") == true)
            #expect(tokens["token_type"] as? String == "Bearer")
            #expect(tokens["expires_in"] as? Int == 900)
            #expect(tokens["access_token"] is String && tokens["refresh_token"] is String)
            #expect(gateway.double.userID(login: tokens["login"] as! String) == tokens["user_id"] as? String)

            let again = try await gateway.request(.post, "/v1/auth/register", json: ["email": email, "password": "another-password"])
            #expect(again.status == 409)
            #expect(again.errorCode == "email_taken")
        }
    }

    @Test("login: 200 with a pair; wrong password and unknown address get the same 401")
    func login() async throws {
        try await GatewayHarness.run { gateway in
            let (email, registered) = try await gateway.register("bob")
            let ok = try await gateway.request(.post, "/v1/auth/login", json: ["email": email, "password": "secret-password"])
            #expect(ok.status == 200)
            #expect(ok.json?["user_id"] as? String == registered["user_id"] as? String)
            let wrong = try await gateway.request(.post, "/v1/auth/login", json: ["email": email, "password": "wrong-password"])
            let unknown = try await gateway.request(
                .post, "/v1/auth/login", json: ["email": "nobody-\(UUID())@example.com", "password": "wrong-password"])
            #expect(wrong.status == 401 && unknown.status == 401)
            #expect(wrong.text == unknown.text)
            #expect(wrong.errorCode == "invalid_credentials")
        }
    }

    @Test("a password Tinode's policy refuses is a 422")
    func shortPassword() async throws {
        try await GatewayHarness.run { gateway in
            let reply = try await gateway.request(
                .post, "/v1/auth/register", json: ["email": "short-\(UUID())@example.com", "password": "abc"])
            #expect(reply.status == 422)
            #expect(reply.errorCode == "password_rejected")
        }
    }

    @Test("send and read back: text and Drafty, newest first, paging with next_before")
    func sendAndRead() async throws {
        try await GatewayHarness.run { gateway in
            let (_, tokens) = try await gateway.register("carol")
            let token = try #require(tokens["access_token"] as? String)
            var seqs: [Int] = []
            for index in 1...3 {
                let sent = try await gateway.request(.post, "/v1/messages", json: ["text": "hello \(index)"], token: token)
                #expect(sent.status == 201, "\(sent.text)")
                #expect(sent.json?["topic"] as? String == gateway.room)
                #expect((sent.json?["ts"] as? String)?.hasSuffix("Z") == true)
                seqs.append(try #require(sent.json?["seq"] as? Int))
            }
            let drafty: [String: Any] = ["txt": "bold", "fmt": [["at": 0, "len": 4, "tp": "ST"]]]
            let rich = try await gateway.request(.post, "/v1/messages", json: ["content": drafty], token: token)
            #expect(rich.status == 201)
            #expect(gateway.double.messages(inTopic: gateway.room).last?.head["mime"] == Data("\"text/x-drafty\"".utf8))

            let page = try await gateway.request(.get, "/v1/messages?limit=2", token: token)
            #expect(page.status == 200)
            let messages = try #require(page.json?["messages"] as? [[String: Any]])
            #expect(messages.count == 2)
            #expect((messages[0]["content"] as? [String: Any])?["txt"] as? String == "bold")
            #expect(messages[1]["text"] as? String == "hello 3")
            #expect(messages[1]["from"] as? String == tokens["user_id"] as? String)
            let nextBefore = try #require(page.json?["next_before"] as? Int)
            #expect(nextBefore == seqs[2])
            let older = try await gateway.request(.get, "/v1/messages?before=\(nextBefore)&limit=100", token: token)
            let olderTexts = (older.json?["messages"] as? [[String: Any]])?.compactMap { $0["text"] as? String }
            #expect(olderTexts == ["hello 2", "hello 1"])
            #expect(older.json?["next_before"] is NSNull)
        }
    }

    @Test("an Idempotency-Key retry returns the first answer and posts once")
    func idempotentSend() async throws {
        try await GatewayHarness.run { gateway in
            let (_, tokens) = try await gateway.register("dave")
            let token = try #require(tokens["access_token"] as? String)
            let key = UUID().uuidString
            let first = try await gateway.request(
                .post, "/v1/messages", json: ["text": "once"], token: token, headers: [.init("Idempotency-Key")!: key])
            let second = try await gateway.request(
                .post, "/v1/messages", json: ["text": "once"], token: token, headers: [.init("Idempotency-Key")!: key])
            #expect(first.status == 201 && second.status == 201)
            #expect(first.text == second.text)
            #expect(gateway.double.messages(inTopic: gateway.room).count == 1)
        }
    }

    @Test("a send whose answer was lost when Tinode went away is found by its retry in the history: posted once, same seq")
    func idempotentRetryAfterUncertainSend() async throws {
        try await GatewayHarness.run { gateway in
            let (_, tokens) = try await gateway.register("duncan")
            let token = try #require(tokens["access_token"] as? String)
            let userID = try #require(tokens["user_id"] as? String)
            #expect(try await gateway.request(.post, "/v1/messages", json: ["text": "warm-up"], token: token).status == 201)
            let key: HTTPFields = [.init("Idempotency-Key")!: UUID().uuidString]
            // Tinode stores the message, then dies before its answer goes out.
            gateway.double.holdReplies(user: userID)
            async let first = gateway.request(.post, "/v1/messages", json: ["text": "exactly once"], token: token, headers: key)
            #expect(await eventually { gateway.double.messages(inTopic: gateway.room).count == 2 })
            await gateway.double.stop()
            let lost = try await first
            #expect(lost.status == 503, "\(lost.text)")
            #expect(lost.headers[.retryAfter] != nil)
            gateway.double.releaseReplies(user: userID)  // to streams that are gone: nothing arrives
            try await gateway.double.restart()
            var retry = try await gateway.request(.post, "/v1/messages", json: ["text": "exactly once"], token: token, headers: key)
            for _ in 0..<50 where retry.status == 503 {
                try await Task.sleep(for: .milliseconds(200))
                retry = try await gateway.request(.post, "/v1/messages", json: ["text": "exactly once"], token: token, headers: key)
            }
            #expect(retry.status == 201, "\(retry.text)")
            let stored = gateway.double.messages(inTopic: gateway.room)
            #expect(stored.count == 2)
            #expect(retry.json?["seq"] as? Int == stored.last?.seq)
            // And once more: the completed answer, still one message.
            let again = try await gateway.request(.post, "/v1/messages", json: ["text": "exactly once"], token: token, headers: key)
            #expect(again.text == retry.text)
            #expect(gateway.double.messages(inTopic: gateway.room).count == 2)
        }
    }

    @Test("a send refused before it reached Tinode (429) frees its Idempotency-Key: the retry posts once")
    func idempotentRetryAfterRefusal() async throws {
        // One token, refilled every 4 s: long enough that a busy machine does not refill it between the
        // first two sends.
        try await GatewayHarness.run(valkey: false, extraEnvironment: ["GATEWAY_SEND_BURST": "1", "GATEWAY_SENDS_PER_SECOND": "0.25"]) {
            gateway in
            let (_, tokens) = try await gateway.register("dora")
            let token = try #require(tokens["access_token"] as? String)
            let first = try await gateway.request(.post, "/v1/messages", json: ["text": "first"], token: token)
            #expect(first.status == 201)
            let key: HTTPFields = [.init("Idempotency-Key")!: UUID().uuidString]
            let refused = try await gateway.request(.post, "/v1/messages", json: ["text": "second"], token: token, headers: key)
            #expect(refused.status == 429)
            try await Task.sleep(for: .milliseconds(4200))  // the bucket refills a token every 4 s
            let retry = try await gateway.request(.post, "/v1/messages", json: ["text": "second"], token: token, headers: key)
            #expect(retry.status == 201, "\(retry.text)")
            #expect(gateway.double.messages(inTopic: gateway.room).count == 2)
        }
    }

    @Test("refresh rotates; a used refresh token revokes the whole family")
    func refreshRotation() async throws {
        try await GatewayHarness.run(extraEnvironment: ["GATEWAY_REFRESH_RETRY_SECONDS": "0"]) { gateway in
            let (_, tokens) = try await gateway.register("erin")
            let firstRefresh = try #require(tokens["refresh_token"] as? String)
            let rotated = try await gateway.request(.post, "/v1/auth/refresh", json: ["refresh_token": firstRefresh])
            #expect(rotated.status == 200)
            let secondRefresh = try #require(rotated.json?["refresh_token"] as? String)
            let newAccess = try #require(rotated.json?["access_token"] as? String)
            #expect(try await gateway.request(.get, "/v1/me", token: newAccess).status == 200)

            let reuse = try await gateway.request(.post, "/v1/auth/refresh", json: ["refresh_token": firstRefresh])
            #expect(reuse.status == 401)
            #expect(reuse.errorCode == "invalid_refresh_token")
            // The thief's reuse also ended the rightful holder's family.
            let afterReuse = try await gateway.request(.post, "/v1/auth/refresh", json: ["refresh_token": secondRefresh])
            #expect(afterReuse.status == 401)
            // An access token is not a refresh token.
            let wrongKind = try await gateway.request(.post, "/v1/auth/refresh", json: ["refresh_token": newAccess])
            #expect(wrongKind.status == 401)
        }
    }

    @Test("logout: 204, then the same access and refresh tokens are refused")
    func logout() async throws {
        try await GatewayHarness.run { gateway in
            let (email, tokens) = try await gateway.register("frank")
            let access = try #require(tokens["access_token"] as? String)
            let me = try await gateway.request(.get, "/v1/me", token: access)
            #expect(me.status == 200)
            #expect(me.json?["email"] as? String == email)
            #expect(me.json?["name"] as? String == "Frank")
            #expect(try await gateway.request(.post, "/v1/auth/logout", token: access).status == 204)
            let after = try await gateway.request(.get, "/v1/me", token: access)
            #expect(after.status == 401)
            #expect(after.errorCode == "invalid_token")
            let refresh = try await gateway.request(.post, "/v1/auth/refresh", json: ["refresh_token": tokens["refresh_token"] as! String])
            #expect(refresh.status == 401)
        }
    }

    @Test("bad input: missing token, wrong content type, broken JSON, missing fields, oversized bodies, bad paging")
    func badInput() async throws {
        try await GatewayHarness.run { gateway in
            let (_, tokens) = try await gateway.register("grace")
            let token = try #require(tokens["access_token"] as? String)
            let noToken = try await gateway.request(.post, "/v1/messages", json: ["text": "x"])
            #expect(noToken.status == 401 && noToken.errorCode == "invalid_token")
            let garbageToken = try await gateway.request(.get, "/v1/me", token: "not.a.jwt")
            #expect(garbageToken.status == 401)
            let form = try await gateway.request(
                .post, "/v1/messages", raw: "text=x", token: token, headers: [.contentType: "application/x-www-form-urlencoded"])
            #expect(form.status == 415 && form.errorCode == "unsupported_media_type")
            // No Content-Type at all is not JSON either (the generated decoder alone would take it).
            let untyped = try await gateway.request(.post, "/v1/auth/login", raw: #"{"email":"g@example.com","password":"p"}"#)
            #expect(untyped.status == 415 && untyped.errorCode == "unsupported_media_type")
            // What the client says it accepts is no reason to refuse it: every answer is JSON.
            let picky = try await gateway.request(.get, "/v1/me", token: token, headers: [.accept: "text/html"])
            #expect(picky.status == 200)
            let broken = try await gateway.request(
                .post, "/v1/messages", raw: "{\"text\": ", token: token, headers: [.contentType: "application/json"])
            #expect(broken.status == 400 && broken.errorCode == "invalid_request")
            let missing = try await gateway.request(.post, "/v1/auth/login", json: ["email": "x@example.com"])
            #expect(missing.status == 400)
            #expect(missing.text.contains("password"))
            let mistyped = try await gateway.request(.post, "/v1/auth/login", json: ["email": 42, "password": "x"])
            #expect(mistyped.status == 400 && mistyped.text.contains("email"))
            let huge = try await gateway.request(
                .post, "/v1/messages", json: ["text": String(repeating: "a", count: 100_000)], token: token)
            #expect(huge.status == 413)
            let long = try await gateway.request(.post, "/v1/messages", json: ["text": String(repeating: "a", count: 20_000)], token: token)
            #expect(long.status == 413 && long.errorCode == "message_too_large")
            let empty = try await gateway.request(.post, "/v1/messages", json: ["text": "   "], token: token)
            #expect(empty.status == 400)
            for query in ["limit=0", "limit=101", "limit=abc", "before=0", "before=-3"] {
                let reply = try await gateway.request(.get, "/v1/messages?\(query)", token: token)
                #expect(reply.status == 400, "\(query)")
            }
            #expect(gateway.double.messages(inTopic: gateway.room).isEmpty)
        }
    }

    @Test("readyz is 200 when the store answers and the room is known")
    func readiness() async throws {
        try await GatewayHarness.run { gateway in
            let reply = try await gateway.request(.get, "/readyz")
            #expect(reply.status == 200, "\(reply.text)")
        }
    }

    @Test("Tinode down: sends fail fast with 503 and Retry-After; back up: they work again")
    func tinodeDown() async throws {
        try await GatewayHarness.run { gateway in
            let (_, tokens) = try await gateway.register("heidi")
            let token = try #require(tokens["access_token"] as? String)
            await gateway.double.stop()
            let start = ContinuousClock.now
            let down = try await gateway.request(.post, "/v1/messages", json: ["text": "during outage"], token: token)
            #expect(down.status == 503)
            #expect(down.headers[.init("Retry-After")!] != nil)
            #expect(ContinuousClock.now - start < .seconds(6))  // fast: far below the 10 s request timeout
            try await gateway.double.restart()
            var status = 0
            for _ in 0..<50 where status != 201 {
                status = try await gateway.request(.post, "/v1/messages", json: ["text": "back"], token: token).status
                if status != 201 { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(status == 201)
            #expect(gateway.double.messages(inTopic: gateway.room).count == 1)
        }
    }

    @Test("SSE: two users see each other's messages live; Last-Event-ID resumes with no gap and no duplicate")
    func serverSentEvents() async throws {
        try await GatewayHarness.run { gateway in
            let (_, reader) = try await gateway.register("ivan")
            let (_, writer) = try await gateway.register("judy")
            let readerToken = try #require(reader["access_token"] as? String)
            let writerToken = try #require(writer["access_token"] as? String)
            let firstBatch = Task {
                try await SSEClient.read(port: gateway.port, path: "/v1/messages/stream", token: readerToken, count: 3)
            }
            try await Task.sleep(for: .milliseconds(300))
            for index in 1...3 {
                _ = try await gateway.request(.post, "/v1/messages", json: ["text": "live \(index)"], token: writerToken)
            }
            let live = try await firstBatch.value
            #expect(live.map(\.id) == [1, 2, 3])
            #expect(live.first?.data.contains("\"text\":\"live 1\"") == true)
            // The reader is gone; two more messages come; it comes back with the last id it saw.
            for index in 4...5 {
                _ = try await gateway.request(.post, "/v1/messages", json: ["text": "missed \(index)"], token: writerToken)
            }
            let resumed = Task {
                try await SSEClient.read(port: gateway.port, path: "/v1/messages/stream", token: readerToken, lastEventID: 3, count: 3)
            }
            try await Task.sleep(for: .milliseconds(300))
            _ = try await gateway.request(.post, "/v1/messages", json: ["text": "live 6"], token: writerToken)
            #expect(try await resumed.value.map(\.id) == [4, 5, 6])
        }
    }

    @Test("register and login attempts beyond the per-address rate get 429 with Retry-After")
    func authRateLimited() async throws {
        try await GatewayHarness.run(valkey: false, extraEnvironment: ["GATEWAY_AUTH_ATTEMPTS_PER_MINUTE": "3"]) { gateway in
            var statuses: [Int] = []
            for index in 1...3 {
                let reply = try await gateway.request(
                    .post, "/v1/auth/login", json: ["email": "guess\(index)@example.com", "password": "wrong-password"])
                statuses.append(reply.status)
            }
            let limited = try await gateway.request(
                .post, "/v1/auth/register", json: ["email": "late-\(UUID())@example.com", "password": "secret-password"])
            #expect(statuses == [401, 401, 401])
            #expect(limited.status == 429)
            #expect(limited.errorCode == "rate_limited")
            #expect(Int(limited.headers[.init("Retry-After")!] ?? "") ?? 0 >= 1)
        }
    }

    @Test("sends beyond the per-user rate get 429 with Retry-After")
    func rateLimited() async throws {
        try await GatewayHarness.run(valkey: false, extraEnvironment: ["GATEWAY_SEND_BURST": "3", "GATEWAY_SENDS_PER_SECOND": "0.05"]) {
            gateway in
            let (_, tokens) = try await gateway.register("kim_user")
            let token = try #require(tokens["access_token"] as? String)
            var statuses: [Int] = []
            for index in 1...5 {
                statuses.append(try await gateway.request(.post, "/v1/messages", json: ["text": "m\(index)"], token: token).status)
            }
            #expect(statuses == [201, 201, 201, 429, 429])
            let limited = try await gateway.request(.post, "/v1/messages", json: ["text": "again"], token: token)
            #expect(limited.errorCode == "rate_limited")
            #expect(limited.headers[.init("Retry-After")!] != nil)
        }
    }
}

@Suite("Gateway OpenAPI document", .timeLimit(.minutes(2)))
struct OpenAPIDocumentTests {
    @Test("the document describes exactly the routes served, and each documented route answers")
    func matchesRoutes() async throws {
        try await GatewayHarness.run { gateway in
            let reply = try await gateway.request(.get, "/openapi.json")
            #expect(reply.status == 200)
            let document = try #require(reply.json)
            #expect(document["openapi"] as? String == "3.1.0")
            let paths = try #require(document["paths"] as? [String: [String: Any]])
            let documented = Set(paths.flatMap { path, methods in methods.keys.map { "\($0.uppercased()) \(path)" } })
            #expect(documented == GatewayAPI.operations)
            for operation in documented.sorted() {
                let parts = operation.split(separator: " ")
                let method = HTTPRequest.Method(String(parts[0]))!
                if parts[1] == "/v1/messages/stream" { continue }  // never ends without a token; checked by the SSE test
                // Path parameters (`{user_id}`) get a well-formed sample value.
                let path = String(parts[1]).replacing(#/\{[a-z_]+\}/#, with: "usr7yUCHniegrM")
                let answer = try await gateway.request(method, path)
                #expect(answer.status != 404, "\(operation) is documented but not served")
            }
            #expect(try await gateway.request(.get, "/v1/not-a-route").status == 404)
        }
    }

    @Test("every response carries a request id: the caller's when given, a new one otherwise")
    func requestID() async throws {
        try await GatewayHarness.run { gateway in
            let given = try await gateway.request(.get, "/healthz", headers: [.init("X-Request-ID")!: "trace-123"])
            #expect(given.headers[.init("X-Request-ID")!] == "trace-123")
            let made = try await gateway.request(.get, "/v1/me")
            #expect(made.status == 401)
            #expect(made.headers[.init("X-Request-ID")!]?.count == 36)
        }
    }
}
