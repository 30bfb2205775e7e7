import Foundation
import TinodeProto

/// `{hi}`: version negotiation (tinode-protocol.md 3.4 step 2, fixture a).
extension WorldState {
    mutating func hello(_ hi: Pbx_ClientHi, _ request: RequestContext) {
        let sessionID = request.sessionID
        let current = sessions[sessionID]!.version
        if current == 0 {
            let version = ClientVersion.parse(hi.ver)
            guard version != 0 else { return reply(ServerMessage.ctrl(.malformed, id: hi.id), request) }
            guard ClientVersion.isSupported(version) else {
                return reply(ServerMessage.ctrl(.versionNotSupported, id: hi.id), request)
            }
            sessions[sessionID]!.version = version
            sessions[sessionID]!.deviceID = hi.deviceID
            sessions[sessionID]!.language = hi.lang
            return reply(ServerMessage.ctrl(.created, id: hi.id, params: helloParams), request)
        }
        // A repeated hi may omit the version or repeat it, and needs a logged-in session.
        let version = hi.ver.isEmpty ? current : ClientVersion.parse(hi.ver)
        guard version == current else { return reply(ServerMessage.ctrl(.outOfSequence, id: hi.id), request) }
        guard sessions[sessionID]!.userID != nil else {
            return reply(ServerMessage.ctrl(.authenticationRequired, id: hi.id), request)
        }
        let deviceChanged = hi.deviceID != sessions[sessionID]!.deviceID
        // Tinode replaces both with what the new hi carries, even when empty.
        sessions[sessionID]!.deviceID = hi.deviceID
        sessions[sessionID]!.language = hi.lang
        reply(ServerMessage.ctrl(deviceChanged ? .ok : .created, id: hi.id), request)
    }

    /// The keys and values of fixture a, with the double's own build and limits.
    private var helloParams: [String: Data] {
        [
            "ver": GoJSON.string("0.25"),
            "build": GoJSON.string(options.build),
            "maxMessageSize": GoJSON.number(options.maxMessageSize),
            "maxSubscriberCount": GoJSON.number(128),
            "minTagLength": GoJSON.number(Tags.minLength),
            "maxTagLength": GoJSON.number(Tags.maxLength),
            "maxTagCount": GoJSON.number(Tags.maxCount),
            "maxFileUploadSize": GoJSON.number(8_388_608),
            "reqCred": requiredCredentialsJSON,
            "msgDelAge": GoJSON.number(600),
            "servingAt": GoJSON.string(options.servingAt),
            "clusterSize": GoJSON.number(1),
        ]
    }
}
