import Foundation
import Logging
import NIOCore
import SidecarCore
import TinodeProto

/// The time of a `pub`'s message: ctrl carries none, so it is taken from the echoed `data` (waiting up to `echoWait`).
extension TinodeSession {
    func rememberEcho(of message: ChatMessage) {
        let key = MessageKey(topic: message.topic, seq: message.seq)
        if echoTimes.updateValue(message.timestamp, forKey: key) == nil {
            echoOrder.append(key)
            // Forget the oldest half at once: amortised, instead of shifting the array on every message.
            if echoOrder.count > 512 {
                for old in echoOrder.prefix(256) { echoTimes.removeValue(forKey: old) }
                echoOrder.removeFirst(256)
            }
        }
        if let waiter = echoWaiters.removeValue(forKey: key) {
            waiter.deadline.cancel()
            waiter.continuation.resume(returning: message.timestamp)
        }
    }

    func echoTime(of key: MessageKey) async -> Date? {
        if let time = echoTimes[key] { return time }
        if connection.isClosed { return nil }
        let wait = Self.timeAmount(settings.echoWait)
        return await withCheckedContinuation { continuation in
            let deadline = timers.scheduleTask(in: wait) { [weak self] () -> Void in
                Task { await self?.resumeEchoWaiter(key) }
            }
            if let earlier = echoWaiters.updateValue((continuation, deadline), forKey: key) {
                earlier.deadline.cancel()
                earlier.continuation.resume(returning: nil)
            }
        }
    }

    func resumeEchoWaiter(_ key: MessageKey) {
        guard let waiter = echoWaiters.removeValue(forKey: key) else { return }
        waiter.deadline.cancel()
        waiter.continuation.resume(returning: echoTimes[key])
    }

    func resumeEchoWaiters() {
        let waiters = echoWaiters
        echoWaiters.removeAll()
        for waiter in waiters.values {
            waiter.deadline.cancel()
            waiter.continuation.resume(returning: nil)
        }
    }
}
