import Foundation
import GatewayKit
import TinodeProto

/// A bare Tinode client for the baseline, on the Gateway's own HTTP/2 link (grpc-swift's client
/// cannot hold a connection to a server that pings like Tinode): one stream, hi, register, join the room, then `pub` and
/// wait for its ack, in a loop. No correlation table, no live feed, no timeouts: the least work a
/// client can do per message. A reader takes every message off the stream as it arrives (as any
/// real client must, the room's fan-out included) and passes on only the ctrl replies.
enum RawUser {
    /// What one user measured in the window that starts once every user is set up (``StartLine``),
    /// as the session layer's run does not count its set-up either.
    struct Outcome: Sendable {
        var acks = 0
        /// From queueing each counted `pub` to its ack, in seconds.
        var latencies: [Double] = []
        /// The whole process's CPU time (user + system) over the measured window, in ms.
        var cpuMilliseconds = 0.0
    }

    /// - Parameters:
    ///   - startLine: where every user waits once set up; the measured window starts when all are,
    ///     whatever the set-up cost (a double still busy with earlier sessions answers slowly).
    ///   - pace: when set, the user waits a random 0 to 2 x `pace` after each ack before its next
    ///     `pub` (as the Gateway's paced run does); otherwise it sends again at once.
    static func run(
        link: TinodeLink, login: String, room: String, startLine: StartLine, seconds: Int, pace: Duration? = nil
    ) async throws -> Outcome {
        let (ctrls, ctrlSink) = AsyncThrowingStream.makeStream(of: Pbx_ServerCtrl.self)
        // The reader takes every message off the stream (the room's fan-out included) on the link's
        // task and passes on only the ctrl replies.
        let stream = link.openStream(
            consume: { messages in
                for try await message in messages {
                    if case .ctrl(let ctrl) = message.message { ctrlSink.yield(ctrl) }
                }
            },
            onEnd: { error in
                if let error { ctrlSink.finish(throwing: error) } else { ctrlSink.finish() }
            })
        defer { stream.cancel() }
        var iterator = ctrls.makeAsyncIterator()
        func ctrl(id: String) async throws -> Pbx_ServerCtrl {
            while let ctrl = try await iterator.next() {
                if ctrl.id == id { return ctrl }
            }
            throw StreamEnded()
        }
        var hi = Pbx_ClientMsg()
        hi.hi = .with {
            $0.id = "1"
            $0.ver = "0.25"
            $0.userAgent = "raw-bench"
        }
        stream.send(hi)
        _ = try await ctrl(id: "1")
        var acc = Pbx_ClientMsg()
        acc.acc = .with {
            $0.id = "2"
            $0.userID = "new"
            $0.scheme = "basic"
            $0.secret = Data("\(login):bench-pw-1".utf8)
            $0.login = true
        }
        stream.send(acc)
        _ = try await ctrl(id: "2")
        var sub = Pbx_ClientMsg()
        sub.sub = .with {
            $0.id = "3"
            $0.topic = "me"
        }
        stream.send(sub)
        _ = try await ctrl(id: "3")
        sub.sub = .with {
            $0.id = "4"
            $0.topic = room
        }
        stream.send(sub)
        _ = try await ctrl(id: "4")

        let content = try JSONEncoder().encode("benchmark message")
        let start = await startLine.arrive()
        let until = start + .seconds(seconds)
        var outcome = Outcome()
        var number = 10
        while ContinuousClock.now < until {
            number += 1
            let id = String(number)
            var pub = Pbx_ClientMsg()
            pub.pub = .with {
                $0.id = id
                $0.topic = room
                $0.content = content
            }
            let sent = ContinuousClock.now
            stream.send(pub)
            _ = try await ctrl(id: id)
            outcome.acks += 1
            outcome.latencies.append((ContinuousClock.now - sent) / .seconds(1))
            if let pace {
                try await Task.sleep(for: pace * Double.random(in: 0...2))
            }
        }
        stream.finish()
        return outcome
    }

    struct StreamEnded: Error {}
}

/// Where the raw users wait until all are set up; the last to arrive starts the measured window
/// for everyone, and notes the process's CPU time then.
actor StartLine {
    private let expected: Int
    private var waiting: [CheckedContinuation<ContinuousClock.Instant, Never>] = []
    private(set) var start: ContinuousClock.Instant?
    private(set) var cpuMillisecondsAtStart = 0.0

    init(expected: Int) {
        self.expected = expected
    }

    func arrive() async -> ContinuousClock.Instant {
        if let start { return start }
        return await withCheckedContinuation { waiter in
            waiting.append(waiter)
            guard waiting.count == expected else { return }
            let now = ContinuousClock.now
            start = now
            cpuMillisecondsAtStart = processCPUMilliseconds()
            for waiter in waiting { waiter.resume(returning: now) }
            waiting.removeAll()
        }
    }
}

/// User + system CPU time of this process so far, in ms.
func processCPUMilliseconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let user = Double(usage.ru_utime.tv_sec) * 1000 + Double(usage.ru_utime.tv_usec) / 1000
    let system = Double(usage.ru_stime.tv_sec) * 1000 + Double(usage.ru_stime.tv_usec) / 1000
    return user + system
}
