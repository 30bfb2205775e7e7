import Foundation
import GRPCCore
import TinodeProto

/// A bare Tinode client for the baseline: one stream, hi, register, join the room, then `pub` and
/// wait for its ack, in a loop. No correlation table, no live feed, no timeouts: the least work a
/// client can do per message.
enum RawUser {
    /// Returns the acks received after `measureFrom` (the set-up time, which the session layer's
    /// run does not count either) until `until`.
    static func run<Transport: ClientTransport>(
        node: Pbx_Node.Client<Transport>, login: String, room: String, until: ContinuousClock.Instant, measureFrom: Duration
    ) async throws -> Int {
        let (outbound, send) = AsyncStream.makeStream(of: Pbx_ClientMsg.self)
        let request = StreamingClientRequest<Pbx_ClientMsg> { writer in
            for await message in outbound { try await writer.write(message) }
        }
        return try await node.messageLoop(request: request) { response in
            var iterator = response.messages.makeAsyncIterator()
            func ctrl(id: String) async throws -> Pbx_ServerCtrl {
                while let message = try await iterator.next() {
                    if case .ctrl(let ctrl) = message.message, ctrl.id == id { return ctrl }
                }
                throw RPCError(code: .unavailable, message: "stream ended")
            }
            var hi = Pbx_ClientMsg()
            hi.hi = .with {
                $0.id = "1"
                $0.ver = "0.25"
                $0.userAgent = "raw-bench"
            }
            send.yield(hi)
            _ = try await ctrl(id: "1")
            var acc = Pbx_ClientMsg()
            acc.acc = .with {
                $0.id = "2"
                $0.userID = "new"
                $0.scheme = "basic"
                $0.secret = Data("\(login):bench-pw-1".utf8)
                $0.login = true
            }
            send.yield(acc)
            _ = try await ctrl(id: "2")
            var sub = Pbx_ClientMsg()
            sub.sub = .with {
                $0.id = "3"
                $0.topic = "me"
            }
            send.yield(sub)
            _ = try await ctrl(id: "3")
            sub.sub = .with {
                $0.id = "4"
                $0.topic = room
            }
            send.yield(sub)
            _ = try await ctrl(id: "4")

            let content = try JSONEncoder().encode("benchmark message")
            let start = ContinuousClock.now + measureFrom
            var counted = 0
            var number = 10
            while ContinuousClock.now < until {
                number += 1
                let id = String(number)
                var pub = Pbx_ClientMsg()
                pub.pub = .with {
                    $0.id = id
                    $0.topic = room
                    $0.content = content
                }
                send.yield(pub)
                _ = try await ctrl(id: id)
                if ContinuousClock.now >= start { counted += 1 }
            }
            send.finish()
            return counted
        }
    }
}
