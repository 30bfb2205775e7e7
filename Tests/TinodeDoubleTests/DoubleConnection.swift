import GRPCCore
import GRPCNIOTransportHTTP2
import Synchronization
import TinodeProto

/// A real gRPC client (HTTP/2, plaintext) connected to a double. Streams opened through it are
/// cancelled when the scope ends, so a failing test never leaves a call hanging.
final class DoubleConnection: Sendable {
    private let node: Pbx_Node.Client<HTTP2ClientTransport.Posix>
    private let streams = Mutex<[TestStream]>([])

    private init(node: Pbx_Node.Client<HTTP2ClientTransport.Posix>) {
        self.node = node
    }

    static func with<Result: Sendable>(port: Int, _ body: (DoubleConnection) async throws -> Result) async throws -> Result {
        let transport = try HTTP2ClientTransport.Posix(target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext)
        return try await withGRPCClient(transport: transport) { client in
            let connection = DoubleConnection(node: Pbx_Node.Client(wrapping: client))
            defer { connection.cancelAll() }
            return try await body(connection)
        }
    }

    func openStream() -> TestStream {
        let stream = TestStream(node: node)
        streams.withLock { $0.append(stream) }
        return stream
    }

    private func cancelAll() {
        for stream in streams.withLock({ $0 }) { stream.cancel() }
    }
}
