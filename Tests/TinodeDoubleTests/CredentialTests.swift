import Foundation
import Testing
import TinodeDouble
import TinodeProto

@Suite("Required e-mail validation (Options.emailValidation), as fixture i shows it")
struct CredentialTests {
    private static let options: TinodeDouble.Options = {
        var options = TinodeDouble.Options()
        options.emailValidation = TinodeDouble.EmailValidation(debugResponse: "123456")
        return options
    }()

    /// The fixture only shows the debug response working; the mailed code must work too, or tests of
    /// a client that reads the mail could not log in.
    @Test("the mailed code validates the address: 300 until a login carries it, then 200 and the email: tag")
    func mailedCode() async throws {
        try await withDouble(options: Self.options) { double, connection in
            let stream = connection.openStream()
            stream.send(ClientMessage.hi())
            _ = await stream.nextCtrl()
            var acc = ClientMessage.createAccount("a", login: "mailed", password: "goldenpw1")
            var credential = Pbx_ClientCred()
            credential.method = "email"
            credential.value = "mailed@example.com"
            acc.acc.cred = [credential]
            stream.send(acc)
            #expect(await stream.nextCtrl()?.code == 300)
            let mails = double.confirmationMails()
            #expect(mails.map(\.address) == ["mailed@example.com"])
            let code = try #require(mails.first?.code)
            #expect(code != "123456")

            var login = ClientMessage.login("l", basic: "mailed", password: "goldenpw1")
            var answer = Pbx_ClientCred()
            answer.method = "email"
            answer.response = code
            login.login.cred = [answer]
            stream.send(login)
            #expect(await stream.nextCtrl()?.code == 200)
            stream.send(ClientMessage.sub("me", topic: "me"))
            #expect(await stream.nextCtrl()?.code == 200)
            stream.send(ClientMessage.get("t", topic: "me", what: "tags"))
            #expect(await stream.nextMessage()?.meta.tags == ["basic:mailed", "email:mailed@example.com"])
        }
    }

    /// Tinode's validator counts wrong answers per code (`max_retries`, checked before the code is
    /// compared) and `{acc}` with a temporary token asks for a new code (Tinode's `replyUpdateUser`
    /// with `tmp_scheme`), which resets the count and makes the old code useless.
    @Test("max_retries: wrong answers are 300 until the limit, then 422 even for the right code; a new code via tmp_scheme resets it")
    func retriesAndNewCode() async throws {
        var options = TinodeDouble.Options()
        options.emailValidation = TinodeDouble.EmailValidation(maxRetries: 2)
        try await withDouble(options: options) { double, connection in
            let stream = connection.openStream()
            stream.send(ClientMessage.hi())
            _ = await stream.nextCtrl()
            var acc = ClientMessage.createAccount("a", login: "retrier", password: "goldenpw1")
            var credential = Pbx_ClientCred()
            credential.method = "email"
            credential.value = "Retrier@Example.com"
            acc.acc.cred = [credential]
            stream.send(acc)
            let created = try #require(await stream.nextCtrl())
            #expect(created.code == 300)
            let token = try #require(created.params["token"].flatMap { try? JSONDecoder().decode(String.self, from: $0) })
            let user = try #require(created.params["user"].flatMap { try? JSONDecoder().decode(String.self, from: $0) })
            let first = try #require(double.confirmationMails().last?.code)
            #expect(double.confirmationMails().last?.address == "retrier@example.com", "Tinode lower-cases the address")

            func answer(_ code: String, id: String) async -> Int32? {
                var login = ClientMessage.login(id, basic: "retrier", password: "goldenpw1")
                var response = Pbx_ClientCred()
                response.method = "email"
                response.response = code
                login.login.cred = [response]
                stream.send(login)
                return await stream.nextCtrl()?.code
            }
            let wrong = first == "111111" ? "222222" : "111111"
            var codes: [Int32?] = []
            for attempt in 0..<4 { codes.append(await answer(wrong, id: "w\(attempt)")) }
            #expect(codes == [300, 300, 300, 422], "two retries allowed past the first wrong answer")
            #expect(await answer(first, id: "right") == 422, "locked until a new code")

            var resend = Pbx_ClientMsg()
            resend.acc = .with {
                $0.id = "r"
                $0.userID = user
                $0.tmpScheme = "token"
                $0.tmpSecret = Data(base64Encoded: token)!
                $0.cred = [credential]
            }
            stream.send(resend)
            #expect(await stream.nextCtrl()?.code == 200)
            let second = try #require(double.confirmationMails().last?.code)
            #expect(double.confirmationMails().count == 2)
            if second != first { #expect(await answer(first, id: "old") == 300, "the old code stopped working") }
            #expect(await answer(second, id: "new") == 200)
        }
    }
}
