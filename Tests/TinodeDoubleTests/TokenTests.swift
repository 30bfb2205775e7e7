import Foundation
import Testing
import TinodeDouble
import TinodeProto

@Suite("Tokens are Tinode's 50-byte HMAC tokens")
struct TokenTests {
    @Test("the token carries the user id, expiry, level and serial, and its text is standard base64")
    func layout() async throws {
        try await withDouble { double, connection in
            let user = try double.createUser(login: "tokenlayout", password: "secret1")
            let reply = try await connection.openStream().logIn("tokenlayout", "secret1")
            #expect(reply.user == user)
            #expect(reply.level == "auth")
            #expect(reply.tokenText.count == 68)
            #expect(reply.token.count == 50)
            let bytes = [UInt8](reply.token)
            // The id is the URL-safe base64 of the same 8 bytes.
            let idText = Data(bytes[0..<8]).base64EncodedString().prefix(11).replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_")
            #expect("usr" + idText == user)
            let expires = (8..<12).reversed().reduce(0) { $0 << 8 | Int(bytes[$1]) }
            let fourteenDays = Int(Date().timeIntervalSince1970) + 1_209_600
            #expect(abs(expires - fourteenDays) <= 2)
            #expect(Array(bytes[12..<18]) == [20, 0, 1, 0, 1, 0])
            #expect(reply.expires.wholeMatch(of: #/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{0,2}[1-9])?Z/#) != nil)
        }
    }

    @Test("a token login answers with a fresh token; tampered tokens get 401, short ones 400, trailing bytes are ignored")
    func tampering() async throws {
        try await withDouble { double, connection in
            let user = try double.createUser(login: "tamperer", password: "secret1")
            let token = try await connection.openStream().logIn("tamperer", "secret1").token

            func tokenLogin(_ secret: Data) async -> Pbx_ServerCtrl? {
                let stream = connection.openStream()
                stream.send(ClientMessage.hi())
                _ = await stream.nextCtrl()
                stream.send(ClientMessage.login("t", scheme: "token", secret: secret))
                return await stream.nextCtrl()
            }

            #expect(LoginReply(await tokenLogin(token))?.user == user)
            for position in [0, 7, 9, 12, 14, 16, 18, 33, 49] {
                var tampered = [UInt8](token)
                tampered[position] ^= 0x01
                let ctrl = await tokenLogin(Data(tampered))
                #expect(ctrl?.code == 401, "byte \(position) flipped")
                #expect(ctrl?.text == "authentication failed")
            }
            #expect(await tokenLogin(token.prefix(49))?.code == 400)
            #expect(await tokenLogin(Data(token.base64EncodedString().utf8))?.code == 401)
            #expect(await tokenLogin(token + Data([1, 2, 3]))?.code == 200)
        }
    }

    @Test("a token is refused from one second before its expiry")
    func expiry() async throws {
        var options = TinodeDouble.Options()
        options.tokenLifetime = .seconds(2)
        try await withDouble(options: options) { double, connection in
            try double.createUser(login: "shortlived", password: "secret1")
            let token = try await connection.openStream().logIn("shortlived", "secret1").token
            try await Task.sleep(for: .milliseconds(1_100))
            let stream = connection.openStream()
            stream.send(ClientMessage.hi())
            _ = await stream.nextCtrl()
            stream.send(ClientMessage.login("t", scheme: "token", secret: token))
            #expect(await stream.nextCtrl()?.code == 401)
        }
    }

    @Test("a user made root logs in at level root, and the token says so")
    func root() async throws {
        try await withDouble { double, connection in
            let user = try double.createUser(login: "rootish", password: "secret1")
            try double.makeRoot(user: user)
            let reply = try await connection.openStream().logIn("rootish", "secret1")
            #expect(reply.level == "root")
            #expect(reply.token[12] == 30)
            let stream = connection.openStream()
            stream.send(ClientMessage.hi())
            _ = await stream.nextCtrl()
            stream.send(ClientMessage.login("t", scheme: "token", secret: reply.token))
            #expect(LoginReply(await stream.nextCtrl())?.level == "root")
        }
    }
}
