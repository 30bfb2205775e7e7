import Foundation
import GRPCCore
import Testing
import TinodeDouble
import TinodeProto

@Suite("Fault knobs make the double misbehave on purpose")
struct FaultKnobTests {
    @Test("held replies stay back, then arrive newest first on release")
    func holdAndRelease() async throws {
        try await withDouble { double, connection in
            let user = try double.createUser(login: "holder", password: "secret1")
            let stream = connection.openStream()
            try await stream.logIn("holder", "secret1")
            double.holdReplies(user: user)
            for id in ["a", "b", "c"] { stream.send(ClientMessage.get(id, topic: "me", what: "desc")) }
            #expect(await eventually { double.receivedCount(kind: "get") == 3 })
            #expect(await stream.staysSilent())
            double.releaseReplies(user: user)
            var ids: [String] = []
            for _ in 0..<3 { ids.append(await stream.nextMessage()?.meta.id ?? "?") }
            #expect(ids == ["c", "b", "a"])
            // Released means released: the next reply comes at once.
            stream.send(ClientMessage.get("d", topic: "me", what: "desc"))
            #expect(await stream.nextMessage()?.meta.id == "d")
        }
    }

    @Test("a reply delay holds every reply back by at least its lower bound")
    func delayLowerBound() async throws {
        try await withDouble { double, connection in
            try double.createUser(login: "slowpoke", password: "secret1")
            let stream = connection.openStream()
            try await stream.logIn("slowpoke", "secret1")
            // A delay far above what a busy CI machine adds, so that "delayed" and "prompt" stay apart.
            double.setReplyDelay(.milliseconds(2000)...(.milliseconds(2100)))
            let sent = ContinuousClock.now
            stream.send(ClientMessage.get("late", topic: "me", what: "desc"))
            #expect(await stream.nextMessage()?.meta.id == "late")
            #expect(ContinuousClock.now - sent >= .milliseconds(2000))
            double.setReplyDelay(nil)
            let undelayed = ContinuousClock.now
            stream.send(ClientMessage.get("prompt", topic: "me", what: "desc"))
            #expect(await stream.nextMessage()?.meta.id == "prompt")
            #expect(ContinuousClock.now - undelayed < .milliseconds(1500))
        }
    }

    @Test("random reply delays reorder one stream's replies, and none is lost")
    func delayReorders() async throws {
        try await withDouble { double, connection in
            try double.createUser(login: "shuffled", password: "secret1")
            let stream = connection.openStream()
            try await stream.logIn("shuffled", "secret1")
            double.setReplyDelay(.zero...(.milliseconds(200)))
            let sentIDs = (1...30).map { "r\($0)" }
            for id in sentIDs { stream.send(ClientMessage.get(id, topic: "me", what: "desc")) }
            var receivedIDs: [String] = []
            for _ in sentIDs { receivedIDs.append(await stream.nextMessage()?.meta.id ?? "?") }
            #expect(Set(receivedIDs) == Set(sentIDs))
            #expect(receivedIDs != sentIDs, "30 replies with random delays kept their order")
        }
    }

    @Test("a dropped pub reply: the message is stored and fanned out, the publisher hears nothing")
    func dropNextReplies() async throws {
        try await withDouble { double, connection in
            let owner = try double.createUser(login: "dropowner", password: "secret1")
            try double.createUser(login: "dropreader", password: "secret1")
            let group = double.createGroup(owner: owner, name: "drops", tags: [])
            let publisher = connection.openStream()
            try await publisher.logIn("dropowner", "secret1")
            publisher.send(ClientMessage.sub("s", topic: group))
            #expect(await publisher.nextCtrl()?.code == 200)
            let reader = connection.openStream()
            try await reader.logIn("dropreader", "secret1")
            reader.send(ClientMessage.sub("s", topic: group))
            #expect(await reader.nextCtrl()?.code == 200)
            // The owner hears the reader arrive.
            #expect(await publisher.nextMessage()?.pres.what == .acs)
            #expect(await publisher.nextMessage()?.pres.what == .on)

            double.dropNextReplies(kind: "pub", count: 1)
            publisher.send(ClientMessage.pub("p1", topic: group, content: "\"lost ack\""))
            #expect(await reader.nextMessage()?.data.seqID == 1)
            #expect(await publisher.staysSilent())
            #expect(double.messages(inTopic: group).map(\.seq) == [1])

            publisher.send(ClientMessage.pub("p2", topic: group, content: "\"acked\""))
            let ack = await publisher.nextCtrl()
            #expect(ack?.code == 202)
            #expect(decodeJSONNumber(ack?.params["seq"]) == 2)
            #expect(await publisher.nextMessage()?.data.seqID == 2)
        }
    }

    @Test("evict: ctrl 205 without id or topic, silence, then the next client message ends the call with OK")
    func evict() async throws {
        try await withDouble { double, connection in
            let user = try double.createUser(login: "evictee", password: "secret1")
            let stream = connection.openStream()
            try await stream.logIn("evictee", "secret1")
            stream.send(ClientMessage.sub("me", topic: "me"))
            #expect(await stream.nextCtrl()?.code == 200)

            double.evict(user: user)
            let evicted = await stream.nextCtrl()
            #expect(evicted?.code == 205)
            #expect(evicted?.text == "evicted")
            #expect(evicted?.id == "")
            #expect(evicted?.topic == "")
            #expect(await stream.staysSilent())
            #expect(double.openStreamCount(user: user) == 1, "a half-dead stream is still open")

            stream.send(ClientMessage.get("after", topic: "me", what: "desc"))
            #expect(await stream.nextEnd() == .some(nil))
            #expect(await eventually { double.openStreamCount(user: user) == 0 })
        }
    }

    @Test("goHalfDead: no message at all, the call stays open, the next client message ends it with OK")
    func halfDead() async throws {
        try await withDouble { double, connection in
            let user = try double.createUser(login: "zombie", password: "secret1")
            let stream = connection.openStream()
            try await stream.logIn("zombie", "secret1")
            double.goHalfDead(user: user)
            stream.send(ClientMessage.get("ignored", topic: "me", what: "desc"))
            #expect(await stream.nextEnd() == .some(nil))
            #expect(double.receivedCount(kind: "get") == 1)

            let second = connection.openStream()
            try await second.logIn("zombie", "secret1")
            double.goHalfDead(user: user)
            #expect(await second.staysSilent())
            #expect(double.openStreamCount(user: user) == 1)
            second.halfClose()
            #expect(await second.nextEnd() == .some(nil))
        }
    }
}
