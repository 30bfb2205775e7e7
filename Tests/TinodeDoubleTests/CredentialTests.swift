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
}
