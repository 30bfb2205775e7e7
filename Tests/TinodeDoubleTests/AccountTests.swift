import Foundation
import Testing
import TinodeDouble
import TinodeProto

@Suite("Accounts and logins under the basic authenticator's rules")
struct AccountTests {
    /// tinode-protocol.md section 8, as the fixture server answered.
    @Test(
        "login names as the fixture server judged them",
        arguments: [
            ("john_gm_5d41402a", 200), ("abcd", 200), ("john.doe", 200), ("1234567", 200), ("jöhn_ßmith", 200),
            ("UPPERCASE_User", 200), ("abcdefghijklmnopqrstuvwxyz", 200),
            ("John.Doe+x@gmail.com", 422), ("john@example.com", 422), ("john-doe", 422), ("_johnny", 422), ("johnny_", 422),
            ("john doe", 422), ("ab", 422), ("abc", 422), (String(repeating: "a", count: 33), 422),
            (String(repeating: "a", count: 27), 500), (String(repeating: "b", count: 32), 500),
        ]
    )
    func loginNames(login: String, code: Int) async throws {
        try await withDouble { _, connection in
            let stream = connection.openStream()
            stream.send(ClientMessage.hi())
            _ = await stream.nextCtrl()
            stream.send(ClientMessage.createAccount("a", login: login, password: "goldenpw1"))
            let ctrl = await stream.nextCtrl()
            #expect(ctrl.map { Int($0.code) } == code)
            if code == 422 { #expect(ctrl?.params == ServerParams.whatAuth) }
            if code == 500 { #expect(ctrl?.text == "internal error") }
        }
    }

    @Test("logins are stored lower-cased and are case-insensitive; the account is tagged basic:<login>")
    func caseInsensitive() async throws {
        try await withDouble { double, connection in
            let creator = connection.openStream()
            creator.send(ClientMessage.hi())
            _ = await creator.nextCtrl()
            creator.send(ClientMessage.createAccount("a", login: "UPPERCASE_User", password: "goldenpw1", signIn: false))
            let created = await creator.nextCtrl()
            #expect(created?.code == 201)
            #expect(Set(created?.params.keys ?? [:].keys) == ["user", "authlvl", "desc"])

            let user = try #require(double.userID(login: "uppercase_user"))
            let stream = connection.openStream()
            #expect(try await stream.logIn("UpperCase_USER", "goldenpw1").user == user)
            stream.send(ClientMessage.sub("me", topic: "me", what: "tags"))
            #expect(await stream.nextCtrl()?.code == 200)
            #expect(await stream.nextMessage()?.meta.tags == ["basic:uppercase_user"])
        }
    }

    @Test("short passwords get 422 without params; a taken login 409; email tags 403 and no account")
    func refusals() async throws {
        try await withDouble { double, connection in
            let stream = connection.openStream()
            stream.send(ClientMessage.hi())
            _ = await stream.nextCtrl()
            stream.send(ClientMessage.createAccount("short", login: "shorty", password: "abc"))
            let short = await stream.nextCtrl()
            #expect(short?.code == 422)
            #expect(short?.params.isEmpty == true)
            #expect(double.userID(login: "shorty") == nil)

            stream.send(ClientMessage.createAccount("tags", login: "tagger", password: "goldenpw1", tags: ["email:x@example.com"]))
            let tags = await stream.nextCtrl()
            #expect(tags?.code == 403)
            #expect(tags?.params == ["what": Data("\"tags\"".utf8)])
            #expect(double.userID(login: "tagger") == nil)

            stream.send(ClientMessage.createAccount("first", login: "twice", password: "goldenpw1", signIn: false))
            #expect(await stream.nextCtrl()?.code == 201)
            stream.send(ClientMessage.createAccount("second", login: "twice", password: "goldenpw1", signIn: false))
            let duplicate = await stream.nextCtrl()
            #expect(duplicate?.code == 409)
            #expect(duplicate?.params == ServerParams.whatAuth)

            var noColon = ClientMessage.createAccount("malformed", login: "a", password: "b")
            noColon.acc.secret = Data("nocolonatall".utf8)
            stream.send(noColon)
            #expect(await stream.nextCtrl()?.code == 400)
        }
    }

    @Test("basic login failures: wrong password and unknown login 401, unknown scheme 401, second login 409")
    func loginFailures() async throws {
        try await withDouble { double, connection in
            try double.createUser(login: "knownuser", password: "secret1")
            let stream = connection.openStream()
            stream.send(ClientMessage.hi())
            _ = await stream.nextCtrl()
            stream.send(ClientMessage.login("wrong", basic: "knownuser", password: "secret2"))
            #expect(await stream.nextCtrl()?.text == "authentication failed")
            stream.send(ClientMessage.login("unknown", basic: "nobodyhere", password: "secret1"))
            #expect(await stream.nextCtrl()?.text == "authentication failed")
            stream.send(ClientMessage.login("scheme", scheme: "rest", secret: Data("x".utf8)))
            #expect(await stream.nextCtrl()?.text == "unknown authentication scheme")
            stream.send(ClientMessage.login("ok", basic: "knownuser", password: "secret1"))
            #expect(await stream.nextCtrl()?.code == 200)
            stream.send(ClientMessage.login("again", basic: "knownuser", password: "secret1"))
            #expect(await stream.nextCtrl()?.text == "already authenticated")
        }
    }

    @Test("a deleted user cannot log in again, with a password or a token, and its login is free")
    func deletedUser() async throws {
        try await withDouble { double, connection in
            try double.createUser(login: "goner", password: "secret1")
            let stream = connection.openStream()
            let reply = try await stream.logIn("goner", "secret1")
            var del = Pbx_ClientMsg()
            del.del.id = "d"
            del.del.what = .user
            stream.send(del)
            #expect(await stream.nextCtrl()?.code == 200)
            #expect(await stream.nextCtrl()?.code == 205)

            let again = connection.openStream()
            again.send(ClientMessage.hi())
            _ = await again.nextCtrl()
            again.send(ClientMessage.login("t", scheme: "token", secret: reply.token))
            #expect(await again.nextCtrl()?.code == 401)
            again.send(ClientMessage.login("b", basic: "goner", password: "secret1"))
            #expect(await again.nextCtrl()?.code == 401)
            #expect(double.userID(login: "goner") == nil)
        }
    }
}

enum ServerParams {
    static let whatAuth = ["what": Data("\"auth\"".utf8)]
}
