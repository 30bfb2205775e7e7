import Foundation
import TinodeProto

/// Builders for the server messages the double sends. Empty strings and zero numbers stay off the
/// wire (proto3), which is how Tinode leaves out an id or topic.
enum ServerMessage {
    static func ctrl(_ status: CtrlStatus, id: String, topic: String = "", params: [String: Data] = [:]) -> Pbx_ServerMsg {
        var ctrl = Pbx_ServerCtrl()
        ctrl.id = id
        ctrl.topic = topic
        ctrl.code = status.code
        ctrl.text = status.text
        ctrl.params = params
        var message = Pbx_ServerMsg()
        message.ctrl = ctrl
        return message
    }

    /// The `{"what": ...}` parameter of 204/208 replies.
    static func what(_ value: String) -> [String: Data] {
        ["what": GoJSON.string(value)]
    }

    static func meta(id: String, topic: String, _ fill: (inout Pbx_ServerMeta) -> Void) -> Pbx_ServerMsg {
        var meta = Pbx_ServerMeta()
        meta.id = id
        meta.topic = topic
        fill(&meta)
        var message = Pbx_ServerMsg()
        message.meta = meta
        return message
    }

    static func data(topic: String, _ record: MessageRecord) -> Pbx_ServerMsg {
        var data = Pbx_ServerData()
        data.topic = topic
        data.fromUserID = record.from
        data.seqID = Int32(record.seq)
        data.content = record.content
        data.head = record.head
        data.timestamp = record.timestamp
        var message = Pbx_ServerMsg()
        message.data = data
        return message
    }

    static func pres(
        topic: String, src: String, what: Pbx_ServerPres.What, seq: Int = 0, actor: String = "", acs: AccessPair? = nil,
        delID: Int = 0, deleted: [ClosedRange<Int>] = []
    ) -> Pbx_ServerMsg {
        var pres = Pbx_ServerPres()
        pres.topic = topic
        pres.src = src
        pres.what = what
        pres.seqID = Int32(seq)
        pres.actorUserID = actor
        if let acs { pres.acs = acs.wire }
        pres.delID = Int32(delID)
        pres.delSeq = deleted.map(seqRange)
        var message = Pbx_ServerMsg()
        message.pres = pres
        return message
    }

    /// `src` is set on `me` only: the topic the note was about (fixture k).
    static func info(topic: String, from: String, what: Pbx_InfoNote, seq: Int, src: String = "") -> Pbx_ServerMsg {
        var info = Pbx_ServerInfo()
        info.topic = topic
        info.fromUserID = from
        info.what = what
        info.seqID = Int32(seq)
        info.src = src
        var message = Pbx_ServerMsg()
        message.info = info
        return message
    }
}

/// Deleted seqs as Tinode sends them: `hi` is exclusive, and 0 for a single seq.
func seqRange(_ range: ClosedRange<Int>) -> Pbx_SeqRange {
    var wire = Pbx_SeqRange()
    wire.low = Int32(range.lowerBound)
    wire.hi = range.count == 1 ? 0 : Int32(range.upperBound + 1)
    return wire
}

/// The want/given pair of a subscription, as `acs` in metas and presence.
struct AccessPair: Sendable {
    var want: AccessMode
    var given: AccessMode

    var mode: AccessMode { want.intersection(given) }

    var wire: Pbx_AccessMode {
        var acs = Pbx_AccessMode()
        acs.want = want.text
        acs.given = given.text
        return acs
    }

    /// The ctrl `acs` parameter, a Go struct with `mode` added.
    var json: Data {
        GoJSON.object([("want", GoJSON.string(want.text)), ("given", GoJSON.string(given.text)), ("mode", GoJSON.string(mode.text))])
    }
}
