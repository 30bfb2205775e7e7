import Foundation
import GRPCCore
import Testing
import TinodeDouble
import TinodeProto

@Suite("Stopping and restarting the double")
struct LifecycleTests {
    @Test("stop ends open streams with UNAVAILABLE; restart serves the same users, tokens and messages on the same port")
    func stopAndRestart() async throws {
        let double = try await TinodeDouble.start()
        let port = double.port
        let owner = try double.createUser(login: "phoenix", password: "secret1")
        let group = double.createGroup(owner: owner, name: "ashes", tags: ["room:ashes"])

        let token = try await DoubleConnection.with(port: port) { connection in
            let stream = connection.openStream()
            let reply = try await stream.logIn("phoenix", "secret1")
            stream.send(ClientMessage.sub("s", topic: group))
            #expect(await stream.nextCtrl()?.code == 200)
            stream.send(ClientMessage.pub("p", topic: group, content: "\"before the restart\""))
            #expect(await stream.nextCtrl()?.code == 202)
            #expect(await stream.nextMessage()?.data.seqID == 1)
            #expect(double.openStreamCount == 1)

            await double.stop()
            #expect(await stream.nextEnd() == .some(.unavailable))
            #expect(double.openStreamCount == 0)
            return reply.token
        }

        try await double.restart()
        #expect(double.port == port)
        try await DoubleConnection.with(port: port) { connection in
            let stream = connection.openStream()
            stream.send(ClientMessage.hi())
            #expect(await stream.nextCtrl()?.code == 201)
            stream.send(ClientMessage.login("t", scheme: "token", secret: token))
            #expect(LoginReply(await stream.nextCtrl())?.user == owner)
            stream.send(ClientMessage.sub("s", topic: group, what: "data"))
            #expect(await stream.nextCtrl()?.code == 200)
            let data = await stream.nextMessage()?.data
            #expect(data?.seqID == 1)
            #expect(data?.content == Data("\"before the restart\"".utf8))
            #expect(await stream.nextCtrl()?.code == 208)
            stream.halfClose()
            #expect(await stream.nextEnd() == .some(nil))
        }
        await double.stop()
    }

    @Test("a stopped double refuses connections")
    func stoppedRefuses() async throws {
        let double = try await TinodeDouble.start()
        await double.stop()
        try await DoubleConnection.with(port: double.port) { connection in
            let stream = connection.openStream()
            stream.send(ClientMessage.hi())
            let event = await stream.next(within: .seconds(10))
            guard case .end(let code) = event else {
                Issue.record("expected the call to fail, got \(String(describing: event))")
                return
            }
            #expect(code == .unavailable)
        }
    }
}
