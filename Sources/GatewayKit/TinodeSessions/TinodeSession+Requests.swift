import Foundation
import Logging
import NIOCore
import SidecarCore
import TinodeProto

/// Sending requests and waiting for their replies, each within `requestTimeout` (an event-loop timer).
extension TinodeSession {
    func requireRoom() throws -> String {
        guard let room = settings.roomTopic else { throw TinodeSessionError.protocolViolation("no chat room configured") }
        return room
    }

    func nextRequestID() -> String {
        requests.nextID()
    }

    func fetchData(
        topic: String, since: Int?, before: Int?, limit: Int, on stream: TinodeStream, generation: Int
    ) async throws -> [ChatMessage] {
        let id = nextRequestID()
        let reply = try await perform(
            ClientMessages.getData(id: id, topic: topic, since: since, before: before, limit: limit), id: id, kind: "get",
            expectation: .dataPage(topic: topic), on: stream, generation: generation)
        if let ctrl = reply.ctrl, !ctrl.isSuccess { throw ctrl.rejection }
        // Live messages of the topic may have arrived during the fetch: keep the requested range.
        var seen = Set<Int>()
        let messages = reply.data.map(ChatMessage.init).filter { message in
            (since.map { message.seq >= $0 } ?? true) && (before.map { message.seq < $0 } ?? true) && seen.insert(message.seq).inserted
        }
        return Array(messages.sorted { $0.seq > $1.seq }.prefix(limit))
    }

    /// Sends a request and waits for its reply, at most `requestTimeout` (an event-loop timer). A
    /// reply after the timeout finds no pending entry and is dropped; a cancelled caller stops
    /// waiting at once.
    func perform(
        _ message: Pbx_ClientMsg, id: String, kind: String, expectation: ReplyExpectation, on stream: TinodeStream,
        generation: Int
    ) async throws -> Reply {
        let start = ContinuousClock.now
        let timeout = Self.timeAmount(settings.requestTimeout)
        let reply = try await withTaskCancellationHandler {
            // Registered and sent in one step on the actor: the reply cannot overtake the waiter.
            try await withCheckedThrowingContinuation { continuation in
                let deadline = timers.scheduleTask(in: timeout) { [weak self] () -> Void in
                    Task { await self?.abandon(id, reason: .timeout) }
                }
                requests.register(
                    id, kind: kind, expectation: expectation, generation: generation,
                    waiter: RequestWaiter(continuation: continuation, deadline: deadline))
                if !stream.send(message) {
                    _ = requests.remove(id)
                    deadline.cancel()
                    continuation.resume(throwing: TinodeSessionError.unavailable(retryAfter: settings.reconnectInitialDelay))
                }
            }
        } onCancel: {
            Task { [weak self] in await self?.abandon(id, reason: nil) }
        }
        metrics.recordLatency(kind: kind, since: start)
        return reply
    }

    func resume(_ completion: RequestCorrelation<RequestWaiter>.Completion) {
        completion.waiter.deadline.cancel()
        completion.waiter.continuation.resume(returning: completion.reply)
    }

    /// Ends a request that got no (complete) reply: `.timeout`, or cancellation when `reason` is nil.
    func abandon(_ id: String, reason: TinodeSessionError?) {
        guard let request = requests.remove(id) else { return }
        request.waiter.deadline.cancel()
        guard let reason else {
            request.waiter.continuation.resume(throwing: CancellationError())
            return
        }
        metrics.timeouts.increment()
        logger.info("Tinode request timed out", metadata: ["kind": "\(request.kind)", "id": "\(id)"])
        request.waiter.continuation.resume(throwing: reason)
        // No answer in time may mean a silent stream: probe it now rather than at the next beat.
        if let ready = connection.ready, request.kind != "heartbeat", request.generation == ready.generation {
            tasks.spawn { [weak self] in try? await self?.heartbeat() }
        }
    }

    func failAllPending(with failure: TinodeSessionError) {
        for waiter in requests.removeAll() {
            waiter.deadline.cancel()
            waiter.continuation.resume(throwing: failure)
        }
    }

    /// A `Duration` as NIO's timers take it.
    static func timeAmount(_ duration: Duration) -> TimeAmount {
        let (seconds, attoseconds) = duration.components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
