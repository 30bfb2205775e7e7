import Foundation
import GRPCOverHTTP2
import NIOCore
import NIOHPACK
import NIOHTTP2
import Synchronization
import TinodeProto

@testable import GatewayKit

/// A `TinodeStreamOpening` without sockets or gRPC: each stream's client messages go to `answer`,
/// and its replies come back as the HTTP/2 frames a gRPC server sends (response head, one DATA
/// frame per message), through the same `TinodeInbound` the real link reads. For session tests
/// that script Tinode message by message.
final class InMemoryTinode: TinodeStreamOpening, Sendable {
    /// One open stream, which the test can end as a connection loss would.
    final class Call: Sendable {
        fileprivate let source: NIOAsyncChannelInboundStream<HTTP2Frame.FramePayload>.TestSource
        fileprivate init(source: NIOAsyncChannelInboundStream<HTTP2Frame.FramePayload>.TestSource) { self.source = source }

        /// Sends a message that answers nothing (a `data` or `pres` of someone else, say).
        func push(_ message: Pbx_ServerMsg) {
            source.yield(InMemoryTinode.frame(message))
        }

        /// Ends the stream without trailers: the session sees it break.
        func breakOff() {
            source.finish()
        }
    }

    private let answer: @Sendable (Pbx_ClientMsg) -> [Pbx_ServerMsg]
    private let calls = Mutex<[Call]>([])
    /// Client messages received, in order, on every stream.
    let received = Mutex<[Pbx_ClientMsg]>([])

    init(answer: @escaping @Sendable (Pbx_ClientMsg) -> [Pbx_ServerMsg]) {
        self.answer = answer
    }

    /// The streams opened so far, oldest first.
    var opened: [Call] { calls.withLock { $0 } }

    func openStream(
        consume: @escaping @Sendable (TinodeInbound) async throws -> Void, onEnd: @escaping @Sendable ((any Error)?) async -> Void
    ) -> TinodeStream {
        let stream = TinodeStream()
        let (frames, source) = NIOAsyncChannelInboundStream<HTTP2Frame.FramePayload>.makeTestingStream()
        let call = Call(source: source)
        calls.withLock { $0.append(call) }
        source.yield(.headers(.init(headers: [":status": "200", "content-type": "application/grpc"])))
        let inbound = TinodeInbound(frames: frames, maximumMessageBytes: 1 << 20) { nil }
        stream.attach(Writer(tinode: self, source: source))
        Task {
            var outcome: (any Error)?
            do { try await consume(inbound) } catch { outcome = error }
            stream.cancel()
            await onEnd(outcome)
        }
        return stream
    }

    /// Answers each message as it is sent, on the sender's thread.
    private struct Writer: TinodeStreamWriter {
        let tinode: InMemoryTinode
        let source: NIOAsyncChannelInboundStream<HTTP2Frame.FramePayload>.TestSource

        func write(_ message: Pbx_ClientMsg) -> Bool {
            tinode.received.withLock { $0.append(message) }
            for reply in tinode.answer(message) { source.yield(InMemoryTinode.frame(reply)) }
            return true
        }

        func finish() {}

        func cancel() { source.finish() }
    }

    fileprivate static func frame(_ message: Pbx_ServerMsg) -> HTTP2Frame.FramePayload {
        // Serialising a message built in a test cannot fail.
        let bytes: [UInt8] = (try? message.serializedBytes()) ?? []
        return .data(.init(data: .byteBuffer(GRPCWire.framed(bytes, allocator: ByteBufferAllocator()))))
    }
}

/// Tinode's answers for the handshake and a `pub`, as tinode-protocol.md section 3 describes them:
/// enough for a session to log in by token, join `me` and the room, and publish.
enum ScriptedTinode {
    static func ctrl(_ id: String, _ code: Int32, _ text: String = "ok", params: [String: String] = [:]) -> Pbx_ServerMsg {
        var ctrl = Pbx_ServerCtrl()
        ctrl.id = id
        ctrl.code = code
        ctrl.text = text
        for (key, value) in params { ctrl.params[key] = Data(value.utf8) }
        var message = Pbx_ServerMsg()
        message.ctrl = ctrl
        return message
    }

    /// `hi` 201, `login` 200 as `user`, `sub` 200 (the room's with a desc at `seq`), `pub` 202 with
    /// the next seq and its echo; `alive` is asked before each answer (false: no answer at all).
    static func answers(user: String, room: String, seq start: Int, alive: @escaping @Sendable () -> Bool = { true })
        -> @Sendable (Pbx_ClientMsg) -> [Pbx_ServerMsg]
    {
        let seq = Counter(start)
        return { message in
            guard alive() else { return [] }
            switch message.message {
            case .hi(let hi):
                return [ctrl(hi.id, 201, "created")]
            case .login(let login):
                let token = Data(repeating: 7, count: 50).base64EncodedString()
                return [ctrl(login.id, 200, params: ["user": "\"\(user)\"", "token": "\"\(token)\""])]
            case .sub(let sub):
                var replies = [ctrl(sub.id, 200)]
                if sub.topic == room {
                    var meta = Pbx_ServerMeta()
                    meta.id = sub.id
                    meta.topic = room
                    meta.desc.seqID = Int32(seq.value.withLock { $0 })
                    var reply = Pbx_ServerMsg()
                    reply.meta = meta
                    replies.append(reply)
                }
                return replies
            case .pub(let pub):
                let next = seq.value.withLock { value -> Int in
                    value += 1
                    return value
                }
                var data = Pbx_ServerData()
                data.topic = pub.topic
                data.fromUserID = user
                data.seqID = Int32(next)
                data.timestamp = 1_765_146_468_043
                data.content = pub.content
                var echo = Pbx_ServerMsg()
                echo.data = data
                return [echo, ctrl(pub.id, 202, "accepted", params: ["seq": "\(next)"])]
            default:
                return []
            }
        }
    }
}

/// The room's last seq, shared by the scripted answers of every stream.
private final class Counter: Sendable {
    let value: Mutex<Int>
    init(_ start: Int) { value = Mutex(start) }
}
