import Foundation
import Hummingbird
import NIOCore
import SidecarCore

extension GatewayAPI {
    /// `GET /v1/messages/stream`: Server-Sent Events, one `message` event per room message with
    /// `id` = its seq. `Last-Event-ID` (or `?last_event_id=`) first replays what came after that id
    /// from history (at most `maxReplay` messages, after a `reset` event when more were missed),
    /// then goes live, with no gap and no duplicate; comment lines every `streamHeartbeat` keep
    /// proxies from closing a quiet stream. A client that stops reading is cut off (`RoomStream`).
    func stream(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let caller = try await authenticate(request)
        let resumeAfter = try LastEventID.parse(
            request.headers[.lastEventID] ?? request.uri.queryParameters["last_event_id"].map(String.init), field: "Last-Event-ID")
        let lease = try streamLease(for: caller)
        let stream = try await openRoomStream(for: caller, resumeAfter: resumeAfter, keepAlive: settings.streamHeartbeat, lease: lease)
        let logger = self.logger
        let headers: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache"]
        return Response(
            status: .ok, headers: headers,
            body: .init { writer in
                try await writer.write(ByteBuffer(string: ": connected\n\n"))
                let response = ResponseWriterHandle(writer)
                let ending = await stream.run { item in try await response.write(Self.serverSentEvent(item)) }
                logger.debug("live stream ended", metadata: ["ending": "\(ending)"])
                switch ending {
                case .cutOff:
                    // A write may have been cancelled half-way through the stream: end the connection,
                    // not the response (the client reconnects with its Last-Event-ID).
                    throw StreamCutOff()
                case .clientGone:
                    return
                case .tokenEnded(let reason):
                    // The client must get a new token (refresh, or log in) before it reconnects.
                    try await response.write(Self.revokedEvent(reason))
                    try await response.finish()
                case .feedEnded, .shutdown, .replayFailed:
                    try await response.finish()
                }
            })
    }

    /// A place among the caller's live streams, or 429 `too_many_streams`.
    func streamLease(for caller: Caller) throws(APIError) -> StreamLease {
        guard let lease = liveStreams.acquire(user: caller.userID, limit: settings.maxStreamsPerUser) else {
            throw Self.tooManyStreams(limit: settings.maxStreamsPerUser)
        }
        return lease
    }

    static func tooManyStreams(limit: Int) -> APIError {
        APIError(
            .tooManyRequests, "too_many_streams",
            "This user already has \(limit) live streams (SSE and WebSocket) open; close one first.")
    }

    /// One item as an SSE event: `message` with `id` = seq; `reset` with `id` = the seq before its
    /// first, so that a reconnect right after it does not replay the skipped seqs again. The data
    /// are the contract's types (``LiveEventEncoding``).
    static func serverSentEvent(_ item: RoomStream.Item) -> ByteBuffer {
        switch item {
        case .message(let message):
            return event(id: message.seq, name: "message", data: LiveEventEncoding.message(message))
        case .reset(let reset):
            return event(id: reset.fromSeq - 1, name: "reset", data: LiveEventEncoding.reset(reset))
        case .keepAlive:
            return ByteBuffer(string: ": keep-alive\n\n")
        }
    }

    /// The last event of a stream whose token stopped working: `event: revoked`,
    /// `data: {"reason":"token_revoked" | "token_expired"}`.
    static func revokedEvent(_ reason: TokenEnd) -> ByteBuffer {
        event(id: nil, name: "revoked", data: LiveEventEncoding.revoked(reason))
    }

    /// JSON has no raw newline, so the data is one `data:` line.
    private static func event(id: Int?, name: String, data: Data) -> ByteBuffer {
        var buffer = ByteBuffer()
        if let id { buffer.writeString("id: \(id)\n") }
        buffer.writeString("event: \(name)\ndata: ")
        buffer.writeBytes(data)
        buffer.writeString("\n\n")
        return buffer
    }
}

/// Ends an SSE connection whose client was cut off.
private struct StreamCutOff: Error {}

/// The response's writer, lent to the child task of `RoomStream` that writes, so that cancelling
/// that task cancels a write blocked on a client that stopped reading. Only one task uses it at a
/// time: the handler's own task waits for the stream to end before it finishes the response.
private final class ResponseWriterHandle: @unchecked Sendable {
    private var writer: any ResponseBodyWriter

    init(_ writer: any ResponseBodyWriter) {
        self.writer = writer
    }

    func write(_ buffer: ByteBuffer) async throws {
        try await writer.write(buffer)
    }

    func finish() async throws {
        try await writer.finish(nil)
    }
}

extension GatewayAPI {
    /// The caller's live stream for SSE and WebSocket alike: subscribed before history is read, so
    /// that nothing published in between is missed (what both deliver is sent once), with the replay
    /// planned from `resumeAfter`.
    func openRoomStream(for caller: Caller, resumeAfter: Int?, keepAlive: Duration?, lease: StreamLease) async throws -> RoomStream {
        let session = try await session(for: caller)
        let subscription = try await tinodeCall { try await session.subscribeLive() }
        let history = SessionRoomHistory(session: session)
        let plan: ReplayPlan?
        do {
            plan = try await tinodeCall {
                try await RoomStream.plan(resumeAfter: resumeAfter, history: history, maxReplay: settings.maxReplay)
            }
        } catch {
            subscription.cancel()
            throw error
        }
        let tokenStore = self.tokenStore
        let accessID = caller.record.accessID
        let userID = caller.userID
        let watch = RoomStream.TokenWatch(
            authorization: streamTokens.authorize(caller), recheckEvery: settings.streamRecheckInterval,
            isLive: { await Self.isLive(accessID: accessID, userID: userID, in: tokenStore) })
        return RoomStream(
            subscription: subscription, history: history, room: await pool.roomTopic, plan: plan, keepAlive: keepAlive, lease: lease,
            tokenWatch: watch)
    }

    /// Whether the store still has the access token; true when it cannot answer (an outage must
    /// not end every stream: revocation notices still arrive, and expiry is checked apart).
    static func isLive(accessID: String, userID: String, in store: any TokenStore) async -> Bool {
        do {
            guard let record = try await store.get(accessID: accessID) else { return false }
            return record.userID == userID
        } catch {
            return true
        }
    }
}
