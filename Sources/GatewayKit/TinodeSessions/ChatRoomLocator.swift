import Foundation
import TinodeProto

/// Finds the chat room, or creates it, as the Gateway's service account: a group topic tagged
/// `room:general` with the public name `general`, that every authenticated user may join, read,
/// write and share (`JRWP`), and anonymous users may not see.
public enum ChatRoomLocator {
    public static let tag = "room:general"
    public static let name = "general"

    /// The room's `grp...` name. `session` must be logged in as the service account and have no room.
    public static func locate(using session: TinodeSession) async throws -> String {
        if let found = try await find(using: session) { return found }
        return try await create(using: session)
    }

    /// Searches `fnd` for the room's tag (tinode-protocol.md 8: a `get sub` on `fnd` answers with a
    /// meta and no ctrl, or with 204 when nothing matched).
    static func find(using session: TinodeSession) async throws -> String? {
        let joined = try await session.request(kind: "sub", expectation: .ctrl) { id in
            var message = Pbx_ClientMsg()
            message.sub = .with {
                $0.id = id
                $0.topic = "fnd"
            }
            return message
        }
        try check(joined.ctrl, allowing: [304])
        let query = try await session.request(kind: "set", expectation: .ctrl) { id in
            var message = Pbx_ClientMsg()
            message.set = .with {
                $0.id = id
                $0.topic = "fnd"
                $0.query = .with { $0.desc = .with { $0.public = (try? JSONEncoder().encode(tag)) ?? Data() } }
            }
            return message
        }
        try check(query.ctrl, allowing: [])
        let found = try await session.request(kind: "get", expectation: .meta) { id in
            var message = Pbx_ClientMsg()
            message.get = .with {
                $0.id = id
                $0.topic = "fnd"
                $0.query = .with { $0.what = "sub" }
            }
            return message
        }
        if let ctrl = found.ctrl, ctrl.code != 204 { throw ctrl.rejection }
        // Several rooms with the tag (made by hand, or by two Gateways starting at once): the oldest
        // one wins, so every Gateway picks the same.
        let rooms = (found.meta?.sub ?? []).filter { $0.topic.hasPrefix("grp") }
        return rooms.min { ($0.updatedAt, $0.topic) < ($1.updatedAt, $1.topic) }?.topic
    }

    /// `{sub topic:"new"}` with the room's description, access and tag; Tinode answers with the
    /// real `grp...` name in `ctrl.topic`.
    static func create(using session: TinodeSession) async throws -> String {
        let created = try await session.request(kind: "sub", expectation: .ctrl) { id in
            var message = Pbx_ClientMsg()
            message.sub = .with {
                $0.id = id
                $0.topic = "new"
                $0.setQuery = .with {
                    $0.desc = .with {
                        $0.public = ClientMessages.jsonObject(["fn": name])
                        $0.defaultAcs = .with {
                            $0.auth = "JRWP"
                            $0.anon = "N"
                        }
                    }
                    $0.tags = [tag]
                }
            }
            return message
        }
        try check(created.ctrl, allowing: [])
        guard let topic = created.ctrl?.topic, topic.hasPrefix("grp") else {
            throw TinodeSessionError.protocolViolation("room created without a grp name")
        }
        return topic
    }

    private static func check(_ ctrl: Pbx_ServerCtrl?, allowing codes: Set<Int32>) throws {
        guard let ctrl else { throw TinodeSessionError.protocolViolation("no ctrl") }
        guard ctrl.isSuccess || codes.contains(ctrl.code) else { throw ctrl.rejection }
    }
}
