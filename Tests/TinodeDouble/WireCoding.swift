import GRPCCore
import SwiftProtobuf
import TinodeProto

/// Reads client messages, refusing those over `max_message_size` the way Tinode's grpc-go server
/// does: the call ends with RESOURCE_EXHAUSTED. (The HTTP/2 transport's own limit would reset the
/// stream instead, which a client sees as UNAVAILABLE, so the transport's limit is set higher.)
struct ClientMessageDeserializer: MessageDeserializer {
    let maxMessageSize: Int

    func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> Pbx_ClientMsg {
        guard serializedMessageBytes.count <= maxMessageSize else {
            throw RPCError(
                code: .resourceExhausted,
                message: "grpc: received message larger than max (\(serializedMessageBytes.count) vs. \(maxMessageSize))")
        }
        return try serializedMessageBytes.withUnsafeBytes { try Pbx_ClientMsg(serializedBytes: [UInt8]($0)) }
    }
}

struct ServerMessageSerializer: MessageSerializer {
    func serialize<Bytes: GRPCContiguousBytes>(_ message: Pbx_ServerMsg) throws -> Bytes {
        Bytes(try message.serializedBytes() as [UInt8])
    }
}
