import GRPCCore
import TinodeProto

/// `pbx.Node` over gRPC: each `MessageLoop` call is one session. Three tasks race per call: the
/// reader (client messages, handled one at a time in order), the single writer (the outbox), and
/// the stop signal. The call ends with OK when the client half-closes or when a half-dead session
/// receives a message, and with UNAVAILABLE when the double stops.
struct NodeService: Pbx_Node.StreamingServiceProtocol {
    let world: World

    /// Like the generated registration, with a deserializer that enforces `max_message_size`.
    /// The file RPCs are left out: the router answers them with UNIMPLEMENTED.
    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        router.registerHandler(
            forMethod: Pbx_Node.Method.MessageLoop.descriptor,
            deserializer: ClientMessageDeserializer(maxMessageSize: world.options.maxMessageSize),
            serializer: ServerMessageSerializer()
        ) { request, context in
            try await messageLoop(request: request, context: context)
        }
    }

    private enum Ending: Sendable {
        case clientDone
        case stopped
        case writerDone
        case released
    }

    func messageLoop(
        request: StreamingServerRequest<Pbx_ClientMsg>, context: ServerContext
    ) async throws -> StreamingServerResponse<Pbx_ServerMsg> {
        StreamingServerResponse { writer in
            guard let session = world.openSession(remoteAddress: Self.address(ofPeer: context.remotePeer)) else {
                throw RPCError(code: .unavailable, message: "server stopped")
            }
            defer { world.closeSession(session.id) }
            try await run(session, messages: request.messages, writer: writer)
            return [:]
        }
    }

    private func run(
        _ session: SessionHandle, messages: RPCAsyncSequence<Pbx_ClientMsg, any Error>, writer: RPCWriter<Pbx_ServerMsg>
    ) async throws {
        try await withThrowingTaskGroup(of: Ending.self) { group in
            group.addTask {
                try await session.outbox.run(writingTo: writer)
                return .writerDone
            }
            group.addTask {
                // A message larger than max_message_size makes this throw RESOURCE_EXHAUSTED
                // (ClientMessageDeserializer), which ends the call with that status, as in Tinode.
                for try await message in messages {
                    if await world.receive(message, session: session.id) == .endCall { break }
                }
                return .clientDone
            }
            group.addTask {
                await session.stopSignal.wait() ? .stopped : .released
            }
            while let ending = try await group.next() {
                switch ending {
                case .stopped:
                    group.cancelAll()
                    throw RPCError(code: .unavailable, message: "server stopped")
                case .clientDone:
                    session.outbox.drain()
                    session.stopSignal.fire(stop: false)
                case .writerDone, .released:
                    break
                }
            }
        }
    }

    /// `ip:port` as Tinode's `s.remoteAddr` has it, from grpc-swift's `ipv4:127.0.0.1:5555` or
    /// `ipv6:[::1]:5555`.
    static func address(ofPeer peer: String) -> String {
        for prefix in ["ipv4:", "ipv6:"] where peer.hasPrefix(prefix) {
            return String(peer.dropFirst(prefix.count))
        }
        return peer
    }

    func largeFileReceive(
        request: StreamingServerRequest<Pbx_FileUpReq>, context: ServerContext
    ) async throws -> StreamingServerResponse<Pbx_FileUpResp> {
        throw RPCError(code: .unimplemented, message: "the Tinode double does not serve files")
    }

    func largeFileServe(
        request: StreamingServerRequest<Pbx_FileDownReq>, context: ServerContext
    ) async throws -> StreamingServerResponse<Pbx_FileDownResp> {
        throw RPCError(code: .unimplemented, message: "the Tinode double does not serve files")
    }
}
