import Foundation
import Logging
import NIOCore
import SidecarCore
import TinodeProto

/// The heartbeat that finds dead and half-dead streams, and the catch-up that fills a gap in the room's seqs.
extension TinodeSession {
    /// Arms the heartbeat of stream `generation`: an event-loop timer, due `heartbeatInterval` after
    /// the last message heard (an idle session holds a timer, not a task).
    func scheduleHeartbeat(generation: Int, after minimum: Duration = .zero) {
        heartbeatTimer?.cancel()
        let delay = max(minimum, lastHeard + settings.heartbeatInterval - .now)
        heartbeatTimer = timers.scheduleTask(in: Self.timeAmount(delay)) { [weak self] () -> Void in
            Task { await self?.heartbeatDue(generation: generation) }
        }
    }

    /// The timer fired: probe when nothing was heard for `heartbeatInterval`, else re-arm for then.
    func heartbeatDue(generation: Int) async {
        guard connection.ready?.generation == generation else { return }
        guard ContinuousClock.now >= lastHeard + settings.heartbeatInterval else {
            scheduleHeartbeat(generation: generation)
            return
        }
        let probing = heartbeatInFlight
        do { try await heartbeat() } catch { return }
        // When a probe (after a request timeout) was already in flight, `heartbeat()` returned at
        // once without waiting for it: look again once its answer is due rather than at once.
        guard connection.ready?.generation == generation else { return }
        scheduleHeartbeat(generation: generation, after: probing ? settings.requestTimeout : .zero)
    }

    /// Fetches the room's messages after the last delivered one, oldest window first, so that the
    /// live feed has no gap; seqs a fetch does not return are gone (deleted) and are skipped.
    func startCatchUp() {
        guard !catchingUp, connection.ready != nil else { return }
        catchingUp = true
        tasks.spawn { [weak self] in await self?.catchUp() }
    }

    func catchUp() async {
        defer {
            catchingUp = false
            needsCatchUp = false
        }
        guard let room = settings.roomTopic else { return }
        while let (stream, generation) = connection.ready {
            guard let last = sequence.lastDelivered else { return }
            let target = max(sequence.highestSeen ?? last, roomSeqAtJoin ?? last)
            guard target > last else { return }
            let windowEnd = min(target, last + settings.catchUpPageSize)
            do {
                let page = try await fetchData(
                    topic: room, since: last + 1, before: windowEnd + 1, limit: settings.catchUpPageSize, on: stream,
                    generation: generation)
                // The page's messages went through `receivedData` already; what is still missing in
                // the window no longer exists.
                _ = page
                deliver(sequence.skip(through: windowEnd))
            } catch {
                logger.info("catching up failed", metadata: ["error": "\(error)"])
                return
            }
        }
    }
}
