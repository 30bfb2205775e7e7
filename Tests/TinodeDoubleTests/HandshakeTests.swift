import Foundation
import GRPCCore
import Testing
import TinodeDouble
import TinodeProto

@Suite("hi, malformed and oversized messages")
struct HandshakeTests {
    @Test(
        "the first hi accepts versions from 0.20 on, with a v prefix and suffixes",
        arguments: [("0.25", 201), ("v0.25.3-rc1", 201), ("0.20", 201), ("1.0", 201), ("0.19", 505), ("", 400), ("abc", 400)]
    )
    func firstHello(version: String, code: Int) async throws {
        try await withDouble { _, connection in
            let stream = connection.openStream()
            stream.send(ClientMessage.hi("h", ver: version))
            let ctrl = await stream.nextCtrl()
            #expect(ctrl.map { Int($0.code) } == code)
            #expect(ctrl?.id == "h")
        }
    }

    @Test("hi params are those of the fixture server, with the double's build")
    func helloParams() async throws {
        try await withDouble { _, connection in
            let stream = connection.openStream()
            stream.send(ClientMessage.hi())
            let params = await stream.nextCtrl()?.params ?? [:]
            #expect(
                Set(params.keys) == [
                    "ver", "build", "maxMessageSize", "maxSubscriberCount", "minTagLength", "maxTagLength", "maxTagCount",
                    "maxFileUploadSize", "reqCred", "msgDelAge", "servingAt", "clusterSize",
                ])
            #expect(params["ver"] == Data("\"0.25\"".utf8))
            #expect(params["build"] == Data("\"double:v0.25.3\"".utf8))
            #expect(params["reqCred"] == Data("null".utf8))
            #expect(params["maxMessageSize"] == Data("131072".utf8))
        }
    }

    @Test("a repeated hi: 201 with the same or no version once logged in, 409 with another, 401 before login")
    func repeatedHello() async throws {
        try await withDouble { double, connection in
            try double.createUser(login: "greeter", password: "secret1")
            let anonymous = connection.openStream()
            anonymous.send(ClientMessage.hi())
            _ = await anonymous.nextCtrl()
            anonymous.send(ClientMessage.hi("again"))
            #expect(await anonymous.nextCtrl()?.code == 401)

            let stream = connection.openStream()
            try await stream.logIn("greeter", "secret1")
            stream.send(ClientMessage.hi("same"))
            #expect(await stream.nextCtrl()?.code == 201)
            stream.send(ClientMessage.hi("empty", ver: ""))
            #expect(await stream.nextCtrl()?.code == 201)
            stream.send(ClientMessage.hi("device", deviceID: "phone-1"))
            #expect(await stream.nextCtrl()?.code == 200)
            stream.send(ClientMessage.hi("other", ver: "0.24"))
            let ctrl = await stream.nextCtrl()
            #expect(ctrl?.code == 409)
            #expect(ctrl?.text == "command out of sequence")
        }
    }

    @Test("an empty ClientMsg gets 400 malformed with no id, and the stream stays usable")
    func emptyMessage() async throws {
        try await withDouble { _, connection in
            let stream = connection.openStream()
            stream.send(Pbx_ClientMsg())
            let ctrl = await stream.nextCtrl()
            #expect(ctrl?.code == 400)
            #expect(ctrl?.text == "malformed")
            #expect(ctrl?.id == "")
            stream.send(ClientMessage.hi())
            #expect(await stream.nextCtrl()?.code == 201)
        }
    }

    @Test("a message over max_message_size ends the call with RESOURCE_EXHAUSTED")
    func oversized() async throws {
        var options = TinodeDouble.Options()
        options.maxMessageSize = 4_096
        try await withDouble(options: options) { double, connection in
            let user = try double.createUser(login: "bigmouth", password: "secret1")
            let group = double.createGroup(owner: user, name: "big", tags: [])
            let stream = connection.openStream()
            try await stream.logIn("bigmouth", "secret1")
            stream.send(ClientMessage.sub("s", topic: group))
            #expect(await stream.nextCtrl()?.code == 200)
            stream.send(ClientMessage.pub("p", topic: group, content: "\"" + String(repeating: "x", count: 5_000) + "\""))
            #expect(await stream.nextEnd() == .some(.resourceExhausted))
            #expect(double.messages(inTopic: group).isEmpty)
        }
    }

    @Test("on_behalf_of from a non-root session: 403 with no id and no topic")
    func onBehalfOf() async throws {
        try await withDouble { double, connection in
            let other = try double.createUser(login: "victim", password: "secret1")
            try double.createUser(login: "impostor", password: "secret1")
            let stream = connection.openStream()
            try await stream.logIn("impostor", "secret1")
            var message = ClientMessage.sub("s", topic: "me")
            message.extra.onBehalfOf = other
            stream.send(message)
            let ctrl = await stream.nextCtrl()
            #expect(ctrl?.code == 403)
            #expect(ctrl?.id == "")
            #expect(ctrl?.topic == "")
        }
    }
}
