import GRPCCore
import GRPCNIOTransportHTTP2
import Synchronization
import Testing
import TinodeProto

/// One `MessageLoop` call seen from the client: send messages, half-close, and read what arrives
/// (server messages, then the end of the call with its status) with a timeout.
final class TestStream: Sendable {
    enum Event: Sendable, CustomStringConvertible {
        case message(Pbx_ServerMsg)
        /// The call ended: nil is status OK.
        case end(RPCError.Code?)

        var description: String {
            switch self {
            case .message(let message):
                "message \(message.kindName): \(message.textFormatString().replacingOccurrences(of: "\n", with: " "))"
            case .end(let code): "end(\(code.map { "\($0)" } ?? "OK"))"
            }
        }
    }

    private let outbound: AsyncStream<Pbx_ClientMsg>.Continuation
    private let inbox: Inbox<Event>
    private let call: Task<Void, Never>

    init(node: Pbx_Node.Client<HTTP2ClientTransport.Posix>) {
        let (requests, outbound) = AsyncStream.makeStream(of: Pbx_ClientMsg.self)
        let inbox = Inbox<Event>()
        self.outbound = outbound
        self.inbox = inbox
        call = Task {
            do {
                let request = StreamingClientRequest<Pbx_ClientMsg> { writer in
                    for await message in requests { try await writer.write(message) }
                }
                try await node.messageLoop(request: request) { response in
                    for try await message in response.messages { inbox.push(.message(message)) }
                }
                inbox.push(.end(nil))
            } catch let error as RPCError {
                inbox.push(.end(error.code))
            } catch {
                inbox.push(.end(.unknown))
            }
        }
    }

    func send(_ message: Pbx_ClientMsg) {
        outbound.yield(message)
    }

    /// The client closes its sending side; Tinode then ends the session.
    func halfClose() {
        outbound.finish()
    }

    func cancel() {
        outbound.finish()
        call.cancel()
    }

    func next(within timeout: Duration = TestTimeouts.answer) async -> Event? {
        await inbox.next(within: timeout)
    }

    /// The next server message; records an issue and returns nil when something else came.
    func nextMessage(within timeout: Duration = TestTimeouts.answer) async -> Pbx_ServerMsg? {
        let event = await next(within: timeout)
        if case .message(let message) = event { return message }
        Issue.record("expected a server message, got \(event.map(String.init(describing:)) ?? "nothing within \(timeout)")")
        return nil
    }
}

extension Pbx_ServerMsg {
    var kindName: String {
        switch message {
        case .ctrl: "ctrl"
        case .data: "data"
        case .pres: "pres"
        case .meta: "meta"
        case .info: "info"
        case nil: ""
        }
    }
}
