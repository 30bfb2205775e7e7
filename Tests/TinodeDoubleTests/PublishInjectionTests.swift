import Foundation
import Testing
import TinodeDouble
import TinodeProto

@Suite("Injecting messages with publish(asUser:topic:content:)")
struct PublishInjectionTests {
    @Test("an injected message is stored, sent as data to attached sessions and as pres MSG on me to detached members")
    func fanOut() async throws {
        try await withDouble { double, connection in
            let author = try double.createUser(login: "injector", password: "secret1")
            let member = try double.createUser(login: "bystander", password: "secret1")
            let group = double.createGroup(owner: author, name: "injected", tags: [])

            let attached = connection.openStream()
            try await attached.logIn("injector", "secret1")
            attached.send(ClientMessage.sub("s", topic: group))
            #expect(await attached.nextCtrl()?.code == 200)

            // The member subscribes, then only stays on `me`.
            let detached = connection.openStream()
            try await detached.logIn("bystander", "secret1")
            detached.send(ClientMessage.sub("me", topic: "me"))
            #expect(await detached.nextCtrl()?.code == 200)
            detached.send(ClientMessage.sub("s", topic: group))
            #expect(await detached.nextCtrl()?.code == 200)
            #expect(await detached.nextMessage()?.pres.what == .on)
            detached.send(ClientMessage.leave("l", topic: group))
            #expect(await detached.nextCtrl()?.code == 200)
            for expected: Pbx_ServerPres.What in [.acs, .on, .off] { #expect(await attached.nextMessage()?.pres.what == expected) }

            let content = Data(#"{"txt": "from the test"}"#.utf8)
            let seq = try double.publish(asUser: author, topic: group, content: content)
            #expect(seq == 1)

            let data = await attached.nextMessage()?.data
            #expect(data?.topic == group)
            #expect(data?.fromUserID == author)
            #expect(data?.seqID == 1)
            // Subscribers get Tinode's re-encoding; the store keeps what was sent.
            #expect(data?.content == Data(#"{"txt":"from the test"}"#.utf8))
            #expect(double.messages(inTopic: group).first?.content == content)

            let pres = await detached.nextMessage()?.pres
            #expect(pres?.topic == "me")
            #expect(pres?.src == group)
            #expect(pres?.what == .msg)
            #expect(pres?.seqID == 1)
            #expect(pres?.actorUserID == author)
            _ = member
        }
    }

    @Test("injection refuses unknown users and topics")
    func refusesUnknown() async throws {
        let double = try await TinodeDouble.start()
        let user = try double.createUser(login: "lonely", password: "secret1")
        #expect(throws: TinodeDoubleError.unknownTopic("grpNOPENOPENOP")) {
            try double.publish(asUser: user, topic: "grpNOPENOPENOP", content: Data("1".utf8))
        }
        let group = double.createGroup(owner: user, name: "g", tags: [])
        #expect(throws: TinodeDoubleError.unknownUser("usrNOPENOPENOP")) {
            try double.publish(asUser: "usrNOPENOPENOP", topic: group, content: Data("1".utf8))
        }
        await double.stop()
    }
}
