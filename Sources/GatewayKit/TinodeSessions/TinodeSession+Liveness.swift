import Foundation
import Logging
import NIOCore
import SidecarCore
import TinodeProto

/// The heartbeat that finds dead and half-dead streams, and the catch-up that fills a gap in the room's seqs.
extension TinodeSession {
    func superviseHeartbeat(generation: Int) async {
        while true {
            guard connection.ready?.generation == generation else { return }
            let due = lastHeard + settings.heartbeatInterval
            if ContinuousClock.now < due {
                do { try await Task.sleep(until: due, clock: .continuous) } catch { return }
                continue
            }
            let probing = heartbeatInFlight
            do { try await heartbeat() } catch { return }
            // When a probe (after a request timeout) was already in flight, `heartbeat()` returned at
            // once without waiting for it: wait for its answer rather than looping on the actor.
            if probing {
                do { try await Task.sleep(for: settings.requestTimeout) } catch { return }
            }
        }
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
