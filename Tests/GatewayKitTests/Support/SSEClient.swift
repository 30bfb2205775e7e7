import Foundation
import NIOCore
import NIOPosix

/// Reads a Server-Sent Events response over a plain TCP connection, as a browser would, until it has
/// `count` events or `timeout` passed. (The test client of Hummingbird waits for a response's end,
/// which a live stream never reaches.)
enum SSEClient {
    struct Event: Equatable {
        let id: Int
        let data: String
    }

    static func read(
        port: Int, path: String, token: String, lastEventID: Int? = nil, count: Int, timeout: Duration = .seconds(5)
    ) async throws -> [Event] {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port) {
            channel in
            channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
        }
        var head = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nAuthorization: Bearer \(token)\r\n"
        if let lastEventID { head += "Last-Event-ID: \(lastEventID)\r\n" }
        head += "\r\n"
        let request = head
        return try await withThrowingTaskGroup(of: [Event]?.self) { group in
            group.addTask {
                try await channel.executeThenClose { inbound, outbound in
                    try await outbound.write(ByteBuffer(string: request))
                    var text = ""
                    for try await chunk in inbound {
                        text += String(buffer: chunk)
                        let events = parse(text)
                        if events.count >= count { return events }
                    }
                    return parse(text)
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            return first ?? []
        }
    }

    /// The `id:`/`data:` pairs in the raw response (chunk-size lines of the chunked encoding never
    /// look like either).
    static func parse(_ text: String) -> [Event] {
        var events: [Event] = []
        // "\r\n" is one Character in Swift, so splitting at "\n" would miss it: drop every CR first.
        let unixText = String(String.UnicodeScalarView(text.unicodeScalars.filter { $0 != "\r" }))
        var id: Int?
        for line in unixText.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("id: ") {
                id = Int(line.dropFirst(4))
            } else if line.hasPrefix("data: "), let current = id {
                events.append(Event(id: current, data: String(line.dropFirst(6))))
                id = nil
            }
        }
        return events
    }
}
