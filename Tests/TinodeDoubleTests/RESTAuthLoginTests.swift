import Foundation
import Testing
import TinodeDouble
import TinodeProto

/// `{login scheme:"rest"}` through a real REST-auth server (tinode-protocol.md 1.2 to 1.8), against
/// what fixtures rest-auth 02, 03 and 10 to 27 recorded from Tinode v0.25.3.
@Suite("Login with scheme rest through a REST-auth server (Options.restAuth)")
struct RESTAuthLoginTests {
    /// The fixtures' client secret and its base64 as Tinode sent it.
    static let secret = "rl8e1a387b:restpass1"
    static let secretBase64 = "cmw4ZTFhMzg3YjpyZXN0cGFzczE="
    static let newAccountAnswer = """
        {"rec": {"authlvl": "auth", "features": "V", "tags": ["rest:rl8e1a387b"]}, \
        "newacc": {"auth": "JRWPAS", "anon": "N", "public": {"fn": "REST rl8e1a387b"}}}
        """

    @Test("a new user: auth, the account, then link with the bare uid; 200, and the account works like any other")
    func newUser() async throws {
        try await withRESTDouble { double, connection, server in
            server.script("/auth", .body(Self.newAccountAnswer))
            server.script("/link", .body("{}"))
            let stream = connection.openStream()
            let reply = try #require(LoginReply(await stream.restLogin(Self.secret)))
            #expect(reply.level == "auth")
            let bare = String(reply.user.dropFirst(3))
            #expect(reply.user.hasPrefix("usr") && bare.count == 11)

            let requests = server.requests
            #expect(requests.map(\.path) == ["/auth", "/link"])
            #expect(requests.allSatisfy { $0.contentType == "application/json" && $0.userAgent == "Go-http-client/1.1" })
            let auth = try #require(requests.first?.text)
            let authMatch = try #require(
                auth.wholeMatch(of: #/\{"endpoint":"auth","name":"rest","secret":"([^"]*)","addr":"(127\.0\.0\.1:\d+)"\}/#))
            #expect(authMatch.1 == Self.secretBase64)
            #expect(
                requests.last?.text == #"{"endpoint":"link","name":"rest","rec":{"uid":""# + bare
                    + #"","authlvl":"auth","features":"V","tags":["rest:rl8e1a387b"],"State":"ok"},"secret":""# + Self.secretBase64 + #""}"#
            )

            // Fixture rest-auth 02: defaults and public from newacc, tags from rec, nothing else.
            stream.send(ClientMessage.sub("s", topic: "me", what: "desc tags"))
            #expect(await stream.nextCtrl()?.code == 200)
            let desc = try #require(await stream.nextMessage()?.meta.desc)
            #expect(desc.defacs.auth == "JRWPAS" && desc.defacs.anon == "N")
            #expect(try JSONSerialization.jsonObject(with: desc.public) as? [String: String] == ["fn": "REST rl8e1a387b"])
            #expect(await stream.nextMessage()?.meta.tags == ["rest:rl8e1a387b"])

            // The token logs in on another stream, without REST, and the account opens a p2p topic.
            let other = connection.openStream()
            other.send(ClientMessage.hi())
            #expect(await other.nextCtrl()?.code == 201)
            other.send(ClientMessage.login("t", scheme: "token", secret: reply.token))
            #expect(LoginReply(await other.nextCtrl())?.user == reply.user)
            #expect(server.requests.count == 2)
            let bob = try double.createUser(login: "bob1", password: "bobpassword")
            other.send(ClientMessage.sub("p", topic: bob))
            #expect(await other.nextCtrl()?.code == 200)
        }
    }

    @Test("a known user: auth only, state undef, 200 as for basic; the token logs in later")
    func knownUser() async throws {
        try await withRESTDouble { double, connection, server in
            let user = try double.createUser(login: "knownuser", password: "password1")
            server.script("/auth", .body(#"{"rec": {"uid": "\#(user.dropFirst(3))", "authlvl": "auth", "state": "undef"}}"#))
            let stream = connection.openStream()
            let reply = try #require(LoginReply(await stream.restLogin(Self.secret)))
            #expect(reply.user == user && reply.level == "auth")
            #expect(server.requests.map(\.path) == ["/auth"])
            stream.send(ClientMessage.sub("s", topic: "me"))
            #expect(await stream.nextCtrl()?.code == 200)

            let later = connection.openStream()
            later.send(ClientMessage.hi())
            #expect(await later.nextCtrl()?.code == 201)
            later.send(ClientMessage.login("t", scheme: "token", secret: reply.token))
            #expect(LoginReply(await later.nextCtrl())?.user == user)
        }
    }

    /// Fixtures rest-auth 10 to 22.
    @Test(
        "an err answer becomes the ctrl decodeStoreError makes of it, without params",
        arguments: [
            ("failed", 401, "authentication failed"), ("expired", 401, "authentication failed"), ("malformed", 400, "malformed"),
            ("denied", 403, "permission denied"), ("duplicate value", 409, "duplicate credential"),
            ("unsupported", 501, "not implemented"), ("policy", 422, "policy violation"), ("credentials", 300, "validate credentials"),
            ("not found", 404, "not found"), ("internal", 500, "internal error"), ("some-unknown-string", 500, "internal error"),
            ("user not found", 404, "user not found"), ("invalid response", 406, "invalid response"),
        ] as [(String, Int32, String)])
    func errorAnswers(error: String, code: Int32, text: String) async throws {
        try await withRESTDouble { _, connection, server in
            server.script("/auth", .body(#"{"err": "\#(error)"}"#))
            let stream = connection.openStream()
            let ctrl = try #require(await stream.restLogin(Self.secret))
            #expect(ctrl.id == "login" && ctrl.code == code && ctrl.text == text && ctrl.params.isEmpty)
            stream.send(ClientMessage.sub("s", topic: "me"))
            #expect(await stream.nextCtrl()?.code == 401, "the stream is still not logged in")
        }
    }

    /// Fixtures rest-auth 23 to 26, and bodies Go's `json.Unmarshal` refuses (1.3).
    @Test(
        "an answer Tinode cannot use is 500 internal error",
        arguments: [
            .status(500, "internal server error\n"), .status(404, #"{"err": "failed"}"#), .body(""), .body("this is not json"),
            .body("{}"), .body("[]"), .body(#"{"err": "failed", "rec": 5}"#), .body(#"{"rec": {"uid": ""}}"#),
            .body(#"{"rec": {"uid": "AAAA+AAAAAA", "state": "undef"}}"#), .body(#"{"rec": {"authlvl": "user"}}"#),
            .body(#"{"rec": {"state": "suspended"}}"#), .body(#"{"rec": {"features": "X"}}"#), .body(#"{"rec": {"lifetime": "3600"}}"#),
            .body(#"{"rec": {"authlvl": null}}"#), .body(#"{"rec": {"authlvl": "auth"}, "byteval": "AQI"}"#),
            .body(#"{"rec": {"authlvl": "auth"}, "ts": "yesterday"}"#),
        ] as [ScriptedRESTAuthServer.Answer])
    func unusableAnswers(answer: ScriptedRESTAuthServer.Answer) async throws {
        try await withRESTDouble { _, connection, server in
            server.script("/auth", answer)
            let ctrl = try #require(await connection.openStream().restLogin(Self.secret))
            #expect(ctrl.code == 500 && ctrl.text == "internal error" && ctrl.params.isEmpty)
            #expect(server.requests.map(\.path) == ["/auth"], "no account, so no link")
        }
    }

    @Test("an unreachable server is 500 at once, as in Go, not after the timeout")
    func unreachable() async throws {
        var options = TinodeDouble.Options()
        // Nothing listens on port 1, and nobody but root could.
        options.restAuth = TinodeDouble.RESTAuth(serverURL: "http://127.0.0.1:1/", timeout: .seconds(30))
        try await withDouble(options: options) { _, connection in
            let stream = connection.openStream()
            stream.send(ClientMessage.hi())
            #expect(await stream.nextCtrl()?.code == 201)
            let started = ContinuousClock.now
            stream.send(ClientMessage.login("login", scheme: "rest", secret: Data(Self.secret.utf8)))
            #expect(await stream.nextCtrl()?.code == 500)
            #expect(ContinuousClock.now - started < .seconds(10))
        }
    }

    @Test("a server that never answers: 500 once the timeout has passed, and the stream goes on")
    func timeout() async throws {
        try await withRESTDouble(timeout: .milliseconds(400)) { _, connection, server in
            server.script("/auth", .hang)
            let stream = connection.openStream()
            stream.send(ClientMessage.hi())
            #expect(await stream.nextCtrl()?.code == 201)
            let started = ContinuousClock.now
            stream.send(ClientMessage.login("login", scheme: "rest", secret: Data(Self.secret.utf8)))
            let ctrl = await stream.nextCtrl()
            let waited = ContinuousClock.now - started
            #expect(ctrl?.code == 500 && ctrl?.text == "internal error")
            #expect(waited >= .milliseconds(400) && waited < .seconds(10), "waited \(waited)")
            stream.send(ClientMessage.sub("s", topic: "me"))
            #expect(await stream.nextCtrl()?.code == 401, "the stream handles its next message, still not logged in")
        }
    }

    /// Fixture rest-auth 27.
    @Test("a rec without uid and without newacc is 404 not found, and no account is made")
    func noUIDNoNewAccount() async throws {
        try await withRESTDouble { _, connection, server in
            server.script("/auth", .body(#"{"rec": {"authlvl": "auth"}}"#))
            let ctrl = try #require(await connection.openStream().restLogin(Self.secret))
            #expect(ctrl.code == 404 && ctrl.text == "not found" && ctrl.params.isEmpty)
            #expect(server.requests.map(\.path) == ["/auth"])
        }
    }

    @Test(
        "link failing deletes the new account again and answers as for auth",
        arguments: [
            (.body(#"{"err": "duplicate value"}"#), 409, "duplicate credential"), (.status(500, "down"), 500, "internal error"),
            (.body(""), 500, "internal error"),
        ] as [(ScriptedRESTAuthServer.Answer, Int32, String)])
    func linkFails(link: ScriptedRESTAuthServer.Answer, code: Int32, text: String) async throws {
        try await withRESTDouble { _, connection, server in
            server.script("/auth", .body(Self.newAccountAnswer))
            server.script("/link", link)
            let stream = connection.openStream()
            let ctrl = try #require(await stream.restLogin(Self.secret))
            #expect(ctrl.code == code && ctrl.text == text)
            let linked = try #require(server.requests.last?.text.firstMatch(of: #/"uid":"([A-Za-z0-9_-]{11})"/#)?.1)

            // Tinode reads the state of the uid link named: the account is gone.
            server.script("/auth", .body(#"{"rec": {"uid": "\#(linked)", "authlvl": "auth", "state": "undef"}}"#))
            stream.send(ClientMessage.login("again", scheme: "rest", secret: Data(Self.secret.utf8)))
            let again = try #require(await stream.nextCtrl())
            #expect(again.code == 404 && again.text == "user not found")
        }
    }

    @Test(
        "required e-mail validation: features with V skip it (200), without V the login is 300 like basic",
        arguments: [
            (#""V""#, 200), ("1", 200), (#""1""#, 200), (#""v""#, 200), ("3", 501), (#""""#, 300), ("0", 300), (nil, 300),
        ] as [(String?, Int32)])
    func validation(features: String?, code: Int32) async throws {
        try await withRESTDouble(configure: { $0.emailValidation = TinodeDouble.EmailValidation() }) { double, connection, server in
            let user = try double.createUser(login: "validating", password: "password1")
            let featuresMember = features.map { #", "features": \#($0)"# } ?? ""
            server.script("/auth", .body(#"{"rec": {"uid": "\#(user.dropFirst(3))", "authlvl": "auth"\#(featuresMember)}}"#))
            let stream = connection.openStream()
            let ctrl = try #require(await stream.restLogin(Self.secret))
            #expect(ctrl.code == code)
            if code == 300 {
                #expect(ctrl.text == "validate credentials")
                #expect(Set(ctrl.params.keys) == ["user", "authlvl", "cred", "token", "expires"])
                #expect(ctrl.params["cred"].flatMap { try? JSONDecoder().decode([String].self, from: $0) } == ["email"])
            }
            stream.send(ClientMessage.sub("s", topic: "me"))
            #expect(await stream.nextCtrl()?.code == (code == 200 ? 200 : 401))
        }
    }

    @Test("what the answer's rec says: root, a state, a challenge; and the scheme in any case")
    func recordFields() async throws {
        try await withRESTDouble { double, connection, server in
            let user = try double.createUser(login: "fielduser", password: "password1")
            let bare = user.dropFirst(3)
            let missing = "AAAAAAAAAAE"
            server.script(
                "/auth", .body(#"{"rec": {"uid": "\#(bare)", "state": "susp", "authlvl": "auth"}}"#),
                .body(#"{"rec": {"uid": "\#(missing)", "state": "undef", "authlvl": "auth"}}"#),
                .body(#"{"rec": {"uid": "\#(bare)", "authlvl": "auth"}, "byteval": "AQI="}"#),
                .body(#"{"rec": {"uid": "\#(bare)", "AuthLvl": "ROOT", "STATE": "OK"}}"#))
            let stream = connection.openStream()
            let suspended = try #require(await stream.restLogin(Self.secret, scheme: "Rest"))
            #expect(suspended.code == 403 && suspended.text == "permission denied")
            stream.send(ClientMessage.login("2", scheme: "REST", secret: Data(Self.secret.utf8)))
            let gone = try #require(await stream.nextCtrl())
            #expect(gone.code == 404 && gone.text == "user not found")
            stream.send(ClientMessage.login("3", scheme: "rest", secret: Data(Self.secret.utf8)))
            let challenge = try #require(await stream.nextCtrl())
            #expect(challenge.code == 300 && challenge.text == "challenge")
            #expect(challenge.params.mapValues { String(decoding: $0, as: UTF8.self) } == ["challenge": #""AQI=""#])
            stream.send(ClientMessage.login("4", scheme: "rest", secret: Data(Self.secret.utf8)))
            let root = try #require(LoginReply(await stream.nextCtrl()))
            #expect(root.user == user && root.level == "root")
            stream.send(ClientMessage.login("5", scheme: "rest", secret: Data(Self.secret.utf8)))
            #expect(await stream.nextCtrl()?.code == 409, "already authenticated, without asking the server")
            #expect(server.requests.count == 4)
        }
    }

    @Test("link carries the rec back as Go writes it: lifetime in nanoseconds, features as letters, defacs")
    func linkEncoding() async throws {
        try await withRESTDouble { _, connection, server in
            server.script(
                "/auth",
                .body(
                    #"{"rec": {"lifetime": "1h30m", "features": 1, "authlvl": "AUTH", "cred": "email:a@b.c", "defacs": {"auth": "JRWP"}, "#
                        + #""tags": ["b", "A"]}, "newacc": {"auth": "bogus!", "public": "x"}}"#))
            server.script("/link", .body(#"{"rec": 1.5}"#))
            let stream = connection.openStream()
            #expect(await stream.restLogin(Self.secret)?.code == 500, "link's answer is decoded too")
            let link = try #require(server.requests.last?.text)
            let uid = try #require(link.firstMatch(of: #/"uid":"([A-Za-z0-9_-]{11})"/#)?.1)
            #expect(
                link == #"{"endpoint":"link","name":"rest","rec":{"uid":""# + uid
                    + #"","authlvl":"auth","lifetime":5400000000000,"features":"V","tags":["b","A"],"State":"ok","cred":"email:a@b.c","#
                    + #""defacs":{"Auth":"JRWP","Anon":"N"}},"secret":""# + Self.secretBase64 + #""}"#)
        }
    }

    @Test("without Options.restAuth, rest is an unknown scheme")
    func switchedOff() async throws {
        try await withDouble { _, connection in
            let ctrl = try #require(await connection.openStream().restLogin(Self.secret))
            #expect(ctrl.code == 401 && ctrl.text == "unknown authentication scheme")
        }
    }

    @Test("a server_url that is not absolute stops the double from starting")
    func invalidURL() async throws {
        var options = TinodeDouble.Options()
        options.restAuth = TinodeDouble.RESTAuth(serverURL: "/auth-server/")
        await #expect(throws: TinodeDoubleError.invalidRESTAuthServerURL("/auth-server/")) {
            _ = try await TinodeDouble.start(options: options)
        }
    }

    /// A double whose `rest` scheme goes to a scripted server.
    private func withRESTDouble(
        allowNewAccounts: Bool = true, timeout: Duration = .seconds(5), configure: (inout TinodeDouble.Options) -> Void = { _ in },
        _ body: (TinodeDouble, DoubleConnection, ScriptedRESTAuthServer) async throws -> Void
    ) async throws {
        try await ScriptedRESTAuthServer.run { server, url in
            var options = TinodeDouble.Options()
            options.restAuth = TinodeDouble.RESTAuth(serverURL: url, allowNewAccounts: allowNewAccounts, timeout: timeout)
            configure(&options)
            try await withDouble(options: options) { double, connection in try await body(double, connection, server) }
        }
    }
}

extension TestStream {
    /// `hi`, then `{login scheme:"rest"}` with the secret's UTF-8 bytes; the login's ctrl.
    func restLogin(_ secret: String, scheme: String = "rest") async -> Pbx_ServerCtrl? {
        send(ClientMessage.hi())
        #expect(await nextCtrl()?.code == 201)
        send(ClientMessage.login("login", scheme: scheme, secret: Data(secret.utf8)))
        return await nextCtrl()
    }
}
