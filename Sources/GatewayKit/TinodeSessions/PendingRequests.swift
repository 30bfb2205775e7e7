import Foundation
import TinodeProto

/// Which messages carrying a request's id complete it. Tinode answers some requests with several
/// messages and some with no ctrl at all (tinode-protocol.md 3.4, 3.5 and 8).
enum ReplyExpectation: Sendable {
    /// The first ctrl with the id (`hi`, `login`, `acc`, `pub`, `leave`).
    case ctrl
    /// `sub` with a `desc` query: a success ctrl is followed by `meta` desc, which completes it; an
    /// error ctrl, or 304 `already subscribed`, completes it alone.
    case subscriptionWithDescription
    /// `get` of desc/sub/tags: one `meta` and no ctrl, or a ctrl (204 or an error).
    case meta
    /// `get` of data: `data` messages of the topic (they carry no id) until the ctrl with `what`
    /// `data` (208 `delivered` or 204 `no content`), or an error ctrl.
    case dataPage(topic: String)
}

/// What arrived for one request.
struct Reply: Sendable {
    var ctrl: Pbx_ServerCtrl?
    var meta: Pbx_ServerMeta?
    var data: [Pbx_ServerData] = []
}

/// A request that was sent and not answered yet; `Waiter` is whatever the session resumes with its
/// reply (a continuation and its deadline in production, a plain value in tests).
struct PendingRequest<Waiter> {
    let kind: String
    let expectation: ReplyExpectation
    let generation: Int
    let waiter: Waiter
    var reply = Reply()
    var heardAnything = false

    /// Takes one message with this request's id; true when the request is complete.
    mutating func accept(ctrl: Pbx_ServerCtrl) -> Bool {
        heardAnything = true
        switch expectation {
        case .ctrl, .meta:
            reply.ctrl = ctrl
            return true
        case .subscriptionWithDescription:
            reply.ctrl = ctrl
            return !ctrl.isSuccess
        case .dataPage:
            if ctrl.code >= 300 || ctrl.stringParam("what") == "data" {
                reply.ctrl = ctrl
                return true
            }
            return false
        }
    }

    mutating func accept(meta: Pbx_ServerMeta) -> Bool {
        heardAnything = true
        switch expectation {
        case .meta:
            reply.meta = meta
            return true
        case .subscriptionWithDescription:
            if meta.hasDesc {
                reply.meta = meta
                return true
            }
            return false
        case .ctrl, .dataPage:
            return false
        }
    }

    /// Data messages carry no id: every pending data page of the topic sees them.
    mutating func accept(data: Pbx_ServerData) {
        guard case .dataPage(let topic) = expectation, topic == data.topic else { return }
        heardAnything = true
        reply.data.append(data)
    }
}
