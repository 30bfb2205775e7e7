import Foundation
import Hummingbird
import NIOCore
import ServiceLifecycle

extension GatewayAPI {
    /// `GET /v1/messages/stream`: Server-Sent Events, one `message` event per room message with
    /// `id` = its seq. `Last-Event-ID` (or `?last_event_id=`) first replays what came after that id
    /// from history, then goes live, with no gap and no duplicate; comment lines every
    /// `streamHeartbeat` keep proxies from closing a quiet stream.
    func stream(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let caller = try await authenticate(request)
        let lastEventText = request.headers[.lastEventID] ?? request.uri.queryParameters["last_event_id"].map(String.init)
        var resumeAfter: Int?
        if let lastEventText {
            guard let value = Int(lastEventText.trimmingCharacters(in: .whitespaces)), value >= 0 else {
                throw APIError.badRequest("Last-Event-ID must be a seq.")
            }
            resumeAfter = value
        }
        let session = try await session(for: caller)
        // Subscribe before reading history, so that nothing published in between is missed; what
        // both deliver is sent once.
        let subscription = try await tinodeCall { try await session.subscribeLive() }
        let room = await pool.roomTopic
        var backlog: [ChatMessage] = []
        if let resumeAfter {
            backlog = try await missedMessages(after: resumeAfter, session: session)
        }
        let replay = backlog
        let resumePoint = resumeAfter
        let heartbeat = settings.streamHeartbeat
        let logger = self.logger
        let headers: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache"]
        return Response(
            status: .ok, headers: headers,
            body: .init { writer in
                var lastSent = resumePoint
                try await writer.write(ByteBuffer(string: ": connected\n\n"))
                for message in replay {
                    try await writer.write(Self.event(for: message))
                    lastSent = message.seq
                }
                let (items, sink) = AsyncStream.makeStream(of: StreamItem.self)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for await event in subscription.events {
                            if case .message(let message) = event, message.topic == room { sink.yield(.message(message)) }
                        }
                        sink.yield(.ended(subscription.endReason))
                    }
                    group.addTask {
                        while true {
                            try await Task.sleep(for: heartbeat)
                            sink.yield(.heartbeat)
                        }
                    }
                    group.addTask {
                        // A stream never ends on its own: end it when the Gateway shuts down, so that
                        // the graceful shutdown does not wait for every client to leave.
                        try await gracefulShutdown()
                        sink.yield(.ended(nil))
                    }
                    loop: for await item in items {
                        switch item {
                        case .message(let message):
                            if let lastSent, message.seq <= lastSent { continue }
                            try await writer.write(Self.event(for: message))
                            lastSent = message.seq
                        case .heartbeat:
                            try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                        case .ended(let reason):
                            logger.debug("live stream ended", metadata: ["reason": "\(String(describing: reason))"])
                            break loop
                        }
                    }
                    group.cancelAll()
                }
                try await writer.finish(nil)
            })
    }

    private enum StreamItem: Sendable {
        case message(ChatMessage)
        case heartbeat
        case ended(LiveSubscription.EndReason?)
    }

    /// Room messages with seq above `seq`, oldest first, read back from history page by page.
    func missedMessages(after seq: Int, session: TinodeSession) async throws -> [ChatMessage] {
        var collected: [ChatMessage] = []
        var before: Int?
        while true {
            let page = try await tinodeCall { try await session.history(before: before, limit: 100) }
            let newer = page.messages.filter { $0.seq > seq }
            collected += newer
            guard newer.count == page.messages.count, page.messages.count == 100, let oldest = page.messages.last?.seq, oldest > seq + 1
            else { break }
            before = oldest
        }
        return collected.sorted { $0.seq < $1.seq }
    }

    private static func event(for message: ChatMessage) -> ByteBuffer {
        let data = (try? JSONSerialization.data(withJSONObject: messageJSON(message), options: [.sortedKeys])) ?? Data("{}".utf8)
        return ByteBuffer(string: "id: \(message.seq)\nevent: message\ndata: \(String(decoding: data, as: UTF8.self))\n\n")
    }
}
