import Foundation
import Logging
import NIOCore
import SidecarCore
import TinodeProto

/// What arrives on the stream: replies (``RequestCorrelation``), the room's messages (``SequenceTracker``), and the stream's end.
extension TinodeSession {
    /// Reads a stream's messages on the actor: the iterator resumes here directly, so a message costs
    /// no extra hop between the gRPC reader and the session.
    func consume(_ messages: TinodeInbound, generation: Int) async throws {
        for try await message in messages {
            received(message, generation: generation)
        }
    }

    /// One message of the stream, looked at once: every message of the room passes here for every
    /// member's session.
    func received(_ message: Pbx_ServerMsg, generation: Int) {
        guard generation == connection.generation else { return }
        lastHeard = .now
        switch message.message {
        case .ctrl(let ctrl):
            if ctrl.id.isEmpty {
                receivedUnaddressed(ctrl, generation: generation)
            } else if let completion = requests.receive(ctrl: ctrl) {
                resume(completion)
            }
        case .meta(let meta):
            if let completion = requests.receive(meta: meta) { resume(completion) }
        case .data(let data):
            requests.receive(data: data)
            receivedData(data)
        case .pres(let presence):
            feed.publish(
                .presence(
                    topic: presence.topic, what: "\(presence.what)", source: presence.src, seq: Int(presence.seqID)))
        case .info, .none:
            break
        }
    }

    /// Replies with no id: 205 (evicted, server shutdown) ends the session on Tinode's side and leaves
    /// the stream half-dead; 400/403 for a malformed message or a bad `extra` cannot be tied to a
    /// request (we never send `extra`), so the only request still waiting for its first reply fails,
    /// if exactly one does; otherwise they run into their timeouts.
    func receivedUnaddressed(_ ctrl: Pbx_ServerCtrl, generation: Int) {
        metrics.unaddressedReplies.increment()
        if ctrl.code == 205 {
            logger.notice("Tinode ended the session", metadata: ["code": "\(ctrl.code)", "text": "\(ctrl.text)"])
            metrics.evictions.increment()
            evictedByTinode = ctrl.text == "evicted"
            streamBroke(generation: generation, because: .unavailable(retryAfter: settings.reconnectInitialDelay))
            return
        }
        logger.warning("Tinode reply without id", metadata: ["code": "\(ctrl.code)", "text": "\(ctrl.text)"])
        if let completion = requests.receiveUnaddressed(ctrl, generation: generation) { resume(completion) }
    }

    func receivedData(_ data: Pbx_ServerData) {
        let message = ChatMessage(data)
        // Only our own messages have a `pub` waiting for their time; in a busy room that is a small
        // share of what arrives.
        if data.fromUserID == identity?.userID { rememberEcho(of: message) }
        if data.topic == settings.roomTopic {
            deliver(sequence.accept(message))
            if sequence.hasHole { startCatchUp() }
        } else {
            // Other topics (p2p, other groups) have no ordering guarantee to keep: pass them on.
            feed.publish(.message(message))
        }
    }

    func deliver(_ messages: [ChatMessage]) {
        for message in messages { feed.publish(.message(message)) }
    }

    func streamEnded(generation: Int, error: (any Error)?) {
        guard generation == connection.generation else { return }
        switch connection.phase {
        case .closed, .idle, .backingOff:
            return
        case .connecting, .ready:
            metrics.streamsLost.increment()
            if let lost = error as? TinodeLinkError, case .connectionLost = lost {
                // The link logs a lost connection once, with its cause; a line per user would bury it.
                logger.debug("Tinode stream ended", metadata: ["error": "\(lost)"])
            } else if let error, !(error is CancellationError) {
                logger.info("Tinode stream ended", metadata: ["error": "\(error)"])
            } else {
                logger.info("Tinode stream ended")
            }
            streamBroke(generation: generation, because: .unavailable(retryAfter: settings.reconnectInitialDelay))
        }
    }

    /// The stream is unusable: fail what waits on it, drop it, and reconnect now when live subscribers
    /// wait (requests reconnect on demand).
    func streamBroke(generation: Int, because failure: TinodeSessionError) {
        guard
            let broken = connection.streamBroke(generation: generation, subscribers: feed.subscriberCount > 0, jitter: Self.jitter())
        else { return }
        broken.stream.cancel()
        for waiter in broken.waiters { waiter.resume(throwing: failure) }
        failAllPending(with: failure)
        catchingUp = false
        if let delay = broken.reconnectAfter { scheduleReconnect(after: delay) }
    }
}
