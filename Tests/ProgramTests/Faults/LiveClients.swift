import AsyncHTTPClient
import Foundation
import HummingbirdWSClient
import Logging
import NIOCore
import Synchronization

/// Long-lived clients of the Gateway process (a WebSocket, an SSE stream), for checking what they
/// see when the Gateway shuts down.
extension GatewayStack {
    /// How a live connection ended.
    enum LiveEnd: Sendable, Equatable {
        /// A WebSocket closed by the server with this close code (`normalClosure`, ...).
        case webSocketClosed(code: String)
        /// A response body (SSE) that ended cleanly.
        case streamEnded
        case failed(String)
    }

    /// Opens `/v1/ws` as `user`, proves the socket works (a send answered with `sent`), then waits
    /// for the server to end it. Returns once the socket is up, or with `up` false when it ended first
    /// or no `sent` came within 20 s; `ended` gives how it ended.
    func openWebSocket(as user: User) async throws -> (ended: Task<LiveEnd, Never>, up: Bool) {
        let up = AsyncStream.makeStream(of: Bool.self)
        let url = "ws://127.0.0.1:\(port)/v1/ws?access_token=\(user.token)"
        let ended = Task<LiveEnd, Never> {
            do {
                let close = try await WebSocketClient.connect(url: url, logger: Logger(label: "fault-test-ws")) { inbound, outbound, _ in
                    try await outbound.write(.text(#"{"type":"send","text":"over the socket","id":"ws-1"}"#))
                    for try await message in inbound.messages(maxSize: 1 << 16) {
                        if case .text(let text) = message, text.contains(#""type":"sent""#) { up.continuation.yield(true) }
                    }
                }
                up.continuation.yield(false)
                guard let close else { return .failed("closed without a close frame") }
                return .webSocketClosed(code: "\(close.closeCode)")
            } catch {
                up.continuation.yield(false)
                return .failed("\(error)")
            }
        }
        let timeout = Task {
            try await Task.sleep(for: .seconds(20))
            up.continuation.yield(false)
        }
        defer { timeout.cancel() }
        var iterator = up.stream.makeAsyncIterator()
        return (ended, await iterator.next() ?? false)
    }

    /// Opens `/v1/messages/stream` as `user` and reads it until it ends. Returns once the answer's
    /// head has arrived (200); `ended` gives how the body ended.
    func openEventStream(as user: User) async throws -> (ended: Task<LiveEnd, Never>, status: Int) {
        var request = HTTPClientRequest(url: baseURL + "/v1/messages/stream")
        request.headers.add(name: "Authorization", value: "Bearer \(user.token)")
        let response = try await http.execute(request, timeout: .seconds(60))
        let ended = Task<LiveEnd, Never> {
            do {
                for try await _ in response.body {}
                return .streamEnded
            } catch {
                return .failed("\(error)")
            }
        }
        return (ended, Int(response.status.code))
    }
}
