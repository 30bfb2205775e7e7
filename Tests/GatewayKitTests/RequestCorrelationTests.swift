import Foundation
import Testing
import TinodeProto

@testable import GatewayKit

/// Request correlation without a stream: which of Tinode's messages completes which request.
@Suite("Request correlation")
struct RequestCorrelationTests {
    static func ctrl(_ id: String, _ code: Int32, what: String? = nil) -> Pbx_ServerMsg {
        var ctrl = Pbx_ServerCtrl()
        ctrl.id = id
        ctrl.code = code
        if let what { ctrl.params["what"] = Data("\"\(what)\"".utf8) }
        var message = Pbx_ServerMsg()
        message.ctrl = ctrl
        return message
    }

    static func meta(_ id: String, desc: Bool) -> Pbx_ServerMsg {
        var meta = Pbx_ServerMeta()
        meta.id = id
        if desc { meta.desc = Pbx_TopicDesc() }
        var message = Pbx_ServerMsg()
        message.meta = meta
        return message
    }

    static func data(_ topic: String, seq: Int32) -> Pbx_ServerMsg {
        var data = Pbx_ServerData()
        data.topic = topic
        data.seqID = seq
        var message = Pbx_ServerMsg()
        message.data = data
        return message
    }

    @Test("ids are unique; replies out of order complete their own requests; late and unknown replies are dropped")
    func outOfOrder() {
        var table = RequestCorrelation<String>()
        let first = table.nextID()
        let second = table.nextID()
        #expect(first != second)
        table.register(first, kind: "pub", expectation: .ctrl, generation: 1, waiter: "first")
        table.register(second, kind: "pub", expectation: .ctrl, generation: 1, waiter: "second")
        let step1 = table.receive(Self.ctrl(second, 202))
        #expect(step1?.waiter == "second")
        let step2 = table.receive(Self.ctrl(second, 200))
        #expect(step2 == nil)  // a second ctrl for a finished request
        let step3 = table.receive(Self.ctrl("99", 200))
        #expect(step3 == nil)
        let done = table.receive(Self.ctrl(first, 200))
        #expect(done?.waiter == "first" && done?.reply.ctrl?.code == 200)
        #expect(table.count == 0)
    }

    @Test("sub with desc: a success ctrl waits for the desc meta; an error ctrl or 304 completes alone")
    func subscriptionWithDescription() {
        var table = RequestCorrelation<Int>()
        table.register("1", kind: "sub", expectation: .subscriptionWithDescription, generation: 1, waiter: 1)
        table.register("2", kind: "sub", expectation: .subscriptionWithDescription, generation: 1, waiter: 2)
        let step4 = table.receive(Self.ctrl("1", 200))
        #expect(step4 == nil)
        let step5 = table.receive(Self.meta("1", desc: false))
        #expect(step5 == nil)
        let completed = table.receive(Self.meta("1", desc: true))
        #expect(completed?.waiter == 1 && completed?.reply.ctrl?.code == 200 && completed?.reply.meta != nil)
        let step6 = table.receive(Self.ctrl("2", 304))
        #expect(step6?.waiter == 2)
    }

    @Test("get data: id-less data of the page's topic collect until the ctrl with what=data; other topics are not taken")
    func dataPages() {
        var table = RequestCorrelation<Int>()
        table.register("1", kind: "get", expectation: .dataPage(topic: "grpA"), generation: 1, waiter: 1)
        table.register("2", kind: "get", expectation: .dataPage(topic: "grpB"), generation: 1, waiter: 2)
        let step7 = table.receive(Self.data("grpA", seq: 5))
        #expect(step7 == nil)
        let step8 = table.receive(Self.data("grpB", seq: 9))
        #expect(step8 == nil)
        let step9 = table.receive(Self.data("grpA", seq: 4))
        #expect(step9 == nil)
        let step10 = table.receive(Self.ctrl("1", 200, what: "sub"))
        #expect(step10 == nil)  // not the page's end
        let page = table.receive(Self.ctrl("1", 208, what: "data"))
        #expect(page?.reply.data.map(\.seqID) == [5, 4])
        let other = table.receive(Self.ctrl("2", 404))
        #expect(other?.reply.data.map(\.seqID) == [9])
        // Finished pages take no more data.
        let step11 = table.receive(Self.data("grpA", seq: 6))
        #expect(step11 == nil && table.count == 0)
    }

    @Test("a ctrl without id answers the one request of the stream that heard nothing yet, and only then")
    func unaddressed() {
        var table = RequestCorrelation<Int>()
        var malformed = Pbx_ServerCtrl()
        malformed.code = 400
        table.register("1", kind: "pub", expectation: .ctrl, generation: 1, waiter: 1)
        table.register("2", kind: "pub", expectation: .ctrl, generation: 1, waiter: 2)
        let step12 = table.receiveUnaddressed(malformed, generation: 1)
        #expect(step12 == nil)  // two could be meant
        let step13 = table.remove("2")
        #expect(step13?.waiter == 2)
        let step14 = table.receiveUnaddressed(malformed, generation: 2)
        #expect(step14 == nil)  // another stream's request
        let step15 = table.receiveUnaddressed(malformed, generation: 1)
        #expect(step15?.reply.ctrl?.code == 400)
        table.register("3", kind: "sub", expectation: .subscriptionWithDescription, generation: 1, waiter: 3)
        _ = table.receive(Self.ctrl("3", 200))
        let step16 = table.receiveUnaddressed(malformed, generation: 1)
        #expect(step16 == nil)  // it heard its ctrl already
        let step17 = table.removeAll()
        #expect(step17 == [3] && table.count == 0)
    }
}
