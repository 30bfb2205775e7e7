import Foundation
import Testing
import TinodeDouble
import TinodeProto

@Suite("Topics: subscribing, publishing, reading history, leaving, searching")
struct TopicTests {
    /// A user logged in on a new stream and attached to `group`.
    private func attachedStream(_ connection: DoubleConnection, _ login: String, to group: String) async throws -> TestStream {
        let stream = connection.openStream()
        try await stream.logIn(login, "secret1")
        stream.send(ClientMessage.sub("s", topic: group))
        #expect(await stream.nextCtrl()?.code == 200)
        return stream
    }

    @Test("get data pages newest first with limit, since_id (inclusive) and before_id (exclusive)")
    func history() async throws {
        try await withDouble { double, connection in
            let user = try double.createUser(login: "historian", password: "secret1")
            let group = double.createGroup(owner: user, name: "history", tags: [])
            for index in 1...5 { try double.publish(asUser: user, topic: group, content: Data("\"m\(index)\"".utf8)) }
            let stream = try await attachedStream(connection, "historian", to: group)

            func page(_ options: Pbx_GetOpts) async -> [Int32] {
                stream.send(ClientMessage.get("g", topic: group, what: "data", data: options))
                var seqs: [Int32] = []
                while let message = await stream.nextMessage() {
                    if case .ctrl(let ctrl) = message.message {
                        #expect(decodeJSONNumber(ctrl.params["count"]) == seqs.count)
                        break
                    }
                    seqs.append(message.data.seqID)
                }
                return seqs
            }
            var limited = Pbx_GetOpts()
            limited.limit = 2
            #expect(await page(limited) == [5, 4])
            var window = Pbx_GetOpts()
            window.sinceID = 2
            window.beforeID = 4
            #expect(await page(window) == [3, 2])
            #expect(await page(Pbx_GetOpts()) == [5, 4, 3, 2, 1])

            var empty = Pbx_GetOpts()
            empty.sinceID = 6
            stream.send(ClientMessage.get("none", topic: group, what: "data", data: empty))
            let noContent = await stream.nextCtrl()
            #expect(noContent?.code == 204)
            #expect(noContent?.params == ["what": Data("\"data\"".utf8)])
        }
    }

    @Test("content is passed on as Tinode re-encodes it; invalid JSON becomes null but is stored as sent")
    func contentEncoding() async throws {
        try await withDouble { double, connection in
            let user = try double.createUser(login: "encoder", password: "secret1")
            let group = double.createGroup(owner: user, name: "json", tags: [])
            let stream = try await attachedStream(connection, "encoder", to: group)

            stream.send(ClientMessage.pub("", topic: group, content: #"{ "b": 1.50, "a": "<i>&" }"#))
            #expect(await stream.nextMessage()?.data.content == Data(#"{"a":"\u003ci\u003e\u0026","b":1.5}"#.utf8))
            stream.send(ClientMessage.pub("", topic: group, content: "not json"))
            #expect(await stream.nextMessage()?.data.content == Data("null".utf8))
            #expect(double.messages(inTopic: group).map(\.content) == [Data(#"{ "b": 1.50, "a": "<i>&" }"#.utf8), Data("not json".utf8)])
        }
    }

    @Test("no_echo keeps the publisher's own data away; the ack still comes")
    func noEcho() async throws {
        try await withDouble { double, connection in
            let user = try double.createUser(login: "quiet", password: "secret1")
            let group = double.createGroup(owner: user, name: "quiet", tags: [])
            let stream = try await attachedStream(connection, "quiet", to: group)
            stream.send(ClientMessage.pub("p", topic: group, content: "\"shh\"", noEcho: true))
            #expect(await stream.nextCtrl()?.code == 202)
            #expect(await stream.staysSilent())
        }
    }

    @Test("re-subscribing gets 304, leaving a topic not joined 304, unsubscribing me 403, pub without attaching 409")
    func sequenceErrors() async throws {
        try await withDouble { double, connection in
            let user = try double.createUser(login: "fumbler", password: "secret1")
            let group = double.createGroup(owner: user, name: "fumbles", tags: [])
            let stream = try await attachedStream(connection, "fumbler", to: group)
            stream.send(ClientMessage.sub("again", topic: group))
            #expect(await stream.nextCtrl()?.text == "already subscribed")
            stream.send(ClientMessage.leave("l", topic: group))
            #expect(await stream.nextCtrl()?.code == 200)
            stream.send(ClientMessage.leave("l2", topic: group))
            #expect(await stream.nextCtrl()?.text == "not joined")
            stream.send(ClientMessage.pub("p", topic: group, content: "1"))
            let refused = await stream.nextCtrl()
            #expect(refused?.code == 409)
            #expect(refused?.topic == group)
            stream.send(ClientMessage.leave("u", topic: "me", unsub: true))
            #expect(await stream.nextCtrl()?.code == 403)
            stream.send(ClientMessage.sub("missing", topic: "grpAAAAAAAAAAA"))
            #expect(await stream.nextCtrl()?.code == 404)

            let anonymous = connection.openStream()
            anonymous.send(ClientMessage.hi())
            _ = await anonymous.nextCtrl()
            anonymous.send(ClientMessage.sub("s", topic: group))
            let required = await anonymous.nextCtrl()
            #expect(required?.code == 401)
            #expect(required?.text == "authentication required")
        }
    }

    @Test("me lists the user's groups with their seq and the user's read marks")
    func meSubscriptions() async throws {
        try await withDouble { double, connection in
            let user = try double.createUser(login: "collector", password: "secret1")
            let first = double.createGroup(owner: user, name: "first", tags: [])
            let second = double.createGroup(owner: user, name: "second", tags: [])
            try double.publish(asUser: user, topic: second, content: Data("1".utf8))
            let stream = connection.openStream()
            try await stream.logIn("collector", "secret1")
            stream.send(ClientMessage.sub("me", topic: "me", what: "sub"))
            #expect(await stream.nextCtrl()?.code == 200)
            let subs = await stream.nextMessage()?.meta.sub ?? []
            #expect(subs.map(\.topic) == [first, second])
            #expect(subs.map(\.seqID) == [0, 1])
            #expect(subs.map(\.readID) == [0, 1])
        }
    }

    @Test("fnd: a comma is OR, a space is AND, the searcher is not found, groups are found by their tags")
    func find() async throws {
        try await withDouble { double, connection in
            try double.createUser(login: "seeker", password: "secret1")
            let target = try double.createUser(login: "target", password: "secret1", name: "Target")
            let group = double.createGroup(owner: target, name: "General", tags: ["room:general"])
            let stream = connection.openStream()
            try await stream.logIn("seeker", "secret1")
            stream.send(ClientMessage.sub("f", topic: "fnd"))
            #expect(await stream.nextCtrl()?.code == 200)

            func search(_ query: String) async -> [String] {
                stream.send(ClientMessage.setFind("q", query: query))
                #expect(await stream.nextCtrl()?.code == 200)
                stream.send(ClientMessage.get("g", topic: "fnd", what: "sub"))
                guard let message = await stream.nextMessage() else { return [] }
                if case .ctrl(let ctrl) = message.message {
                    #expect(ctrl.code == 204)
                    return []
                }
                return message.meta.sub.map(\.topic)
            }
            #expect(await search("basic:nobody,basic:target") == [target])
            #expect(await search("basic:nobody basic:target") == [])
            #expect(await search("basic:seeker") == [])
            #expect(await search("room:general") == [group])
            #expect(await search("target") == [])
        }
    }

    @Test("a read note moves the reader's mark and tells the other attached sessions")
    func readNote() async throws {
        try await withDouble { double, connection in
            let owner = try double.createUser(login: "writer", password: "secret1")
            let reader = try double.createUser(login: "reader", password: "secret1")
            let group = double.createGroup(owner: owner, name: "notes", tags: [])
            try double.publish(asUser: owner, topic: group, content: Data("\"read me\"".utf8))
            let writerStream = try await attachedStream(connection, "writer", to: group)
            let readerStream = try await attachedStream(connection, "reader", to: group)
            #expect(await writerStream.nextMessage()?.pres.what == .acs)
            #expect(await writerStream.nextMessage()?.pres.what == .on)

            readerStream.send(ClientMessage.note(topic: group, what: .read, seq: 1))
            let info = await writerStream.nextMessage()?.info
            #expect(info?.what == .read)
            #expect(info?.fromUserID == reader)
            #expect(info?.seqID == 1)
            readerStream.send(ClientMessage.get("d", topic: group, what: "desc"))
            #expect(await readerStream.nextMessage()?.meta.desc.readID == 1)
            #expect(await readerStream.staysSilent(for: .milliseconds(100)))
        }
    }
}
