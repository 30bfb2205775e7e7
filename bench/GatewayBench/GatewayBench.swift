import ArgumentParser
import Foundation
import GatewayKit
import Logging
import TinodeDouble
import TinodeProto

/// bench/gateway-sessions.sh drives these: a Tinode double in its own process, then the session
/// layer's memory per idle session and its `pub` rate beside raw gRPC clients.
@main
struct GatewayBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks of the Gateway's Tinode session layer against the Tinode double.",
        subcommands: [ServeDouble.self, IdleSessions.self, PublishRate.self])
}

/// Runs the double on a port and prints `room=<grp...>` once it serves.
struct ServeDouble: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve-double")
    @Option var port: Int
    @Option(help: "Also create this many groups for runs where every user writes to a group of its own.")
    var solo = 100
    @Option(help: "Messages a stream may have unsent before the double gives up on it (Tinode: 128).")
    var sendQueueLimit = 128

    func run() async throws {
        var options = TinodeDouble.Options()
        options.sendQueueLimit = sendQueueLimit
        let double = try await TinodeDouble.start(port: port, options: options)
        let owner = try double.createUser(login: "benchowner", password: "bench-owner-pw", name: "Owner")
        let room = double.createGroup(owner: owner, name: "general", tags: ["room:general"])
        let groups = (0..<solo).map { double.createGroup(owner: owner, name: "solo\($0)", tags: []) }
        // Written straight to the file descriptor: the script waits for these lines while we keep running.
        FileHandle.standardOutput.write(Data("solo=\(groups.joined(separator: ","))\nroom=\(room)\n".utf8))
        while true { try await Task.sleep(for: .seconds(3600)) }
    }
}

/// Resident memory of this process, from /proc/self/status.
func residentKiB() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0
    }
    return 0
}

func quietLogger() -> Logger {
    var logger = Logger(label: "bench")
    logger.logLevel = .error
    return logger
}

/// Runs the connector and pool around `body`.
func withSessionLayer<Result: Sendable>(
    port: Int, room: String, body: @Sendable (TinodeSessionPool) async throws -> Result
) async throws -> Result {
    var settings = TinodeSessionSettings()
    settings.roomTopic = room
    settings.requestTimeout = .seconds(30)
    settings.heartbeatInterval = .seconds(600)
    var poolSettings = TinodeSessionPoolSettings()
    poolSettings.maximumSessions = 1_000_000
    poolSettings.idleTimeout = .seconds(3600)
    var options = TinodeLink.Options(host: "127.0.0.1", port: port)
    options.connections = 2
    let connector = TinodeLink(options: options, logger: quietLogger())
    let pool = TinodeSessionPool(connector: connector, settings: settings, poolSettings: poolSettings, logger: quietLogger())
    let services = Task {
        await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await connector.run() }
            group.addTask { try await pool.run() }
            _ = try? await group.next()
            group.cancelAll()
        }
    }
    let result = try await body(pool)
    await pool.drain()
    services.cancel()
    _ = await services.value
    return result
}

/// (a) Memory: `count` users registered and left idle with an open, logged-in, subscribed session.
struct IdleSessions: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "idle-sessions")
    @Option var port: Int
    @Option var room: String
    @Option var count = 10_000
    @Option var concurrency = 100
    @Option var prefix = "idle"

    func run() async throws {
        let count = count, concurrency = concurrency, prefix = prefix
        try await withSessionLayer(port: port, room: room) { pool in
            // Warm up: one session so that connections, event loops and caches exist before the baseline.
            _ = try await pool.logIn(.register(login: "\(prefix)warm", password: "bench-pw-1", name: "w", email: "w@x.test"))
            try await Task.sleep(for: .seconds(1))
            let before = residentKiB()
            let start = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                var next = 0
                func add() {
                    let index = next
                    next += 1
                    group.addTask {
                        _ = try await pool.logIn(
                            .register(login: "\(prefix)\(index)", password: "bench-pw-1", name: "u\(index)", email: "u\(index)@x.test"))
                    }
                }
                for _ in 0..<min(concurrency, count) { add() }
                while try await group.next() != nil {
                    if next < count { add() }
                }
            }
            let opened = ContinuousClock.now - start
            try await Task.sleep(for: .seconds(2))
            let after = residentKiB()
            let sessions = await pool.count - 1
            let perSession = Double(after - before) / Double(sessions)
            print(
                String(
                    format: "idle-sessions sessions=%d rss_before_kib=%d rss_after_kib=%d per_session_kib=%.1f open_seconds=%.1f",
                    sessions, before, after, perSession, Double(opened.components.seconds) + Double(opened.components.attoseconds) / 1e18))
        }
    }
}

/// (b) Throughput: `users` users each publishing in a loop for `seconds`, through the session layer
/// (`--mode session`) or as raw gRPC clients that do only hi/acc/sub and then pub + wait for the ack.
struct PublishRate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "publish-rate")
    @Option var port: Int
    @Option var room: String
    @Option var users = 100
    @Option var seconds = 10
    @Option var mode: String
    @Option var prefix: String
    @Option(help: "Comma-separated groups, one per user: each user writes to its own instead of the shared room.")
    var solo: String?
    @Option(help: "Raw mode: each user waits a random 0 to 2 x this many ms after an ack before its next pub.")
    var paceMs: Int?

    /// The topic user `index` writes to.
    func topic(_ index: Int) -> String {
        guard let solo else { return room }
        let groups = solo.split(separator: ",").map(String.init)
        return groups[index % groups.count]
    }

    func run() async throws {
        let completed: Int
        var latency = ""
        switch mode {
        case "session":
            completed = try await runSessions()
        case "raw":
            let outcome = try await runRaw()
            completed = outcome.acks
            let sorted = outcome.latencies.sorted()
            if !sorted.isEmpty {
                let p99 = sorted[min(sorted.count - 1, Int((Double(sorted.count) * 0.99).rounded(.up)) - 1)]
                latency = String(
                    format: " p99_ms=%.2f cpu_ms_per_pub=%.2f", p99 * 1000, outcome.cpuMilliseconds / Double(max(1, completed)))
            }
        default:
            throw ValidationError("mode is session or raw")
        }
        // `rate=` stays last: bench/gateway-http.sh reads it from there.
        print(
            String(
                format: "publish-rate mode=%@ topics=%@ users=%d seconds=%d pubs=%d%@ rate=%.0f", mode, solo == nil ? "shared" : "own",
                users, seconds, completed, latency, Double(completed) / Double(seconds)))
    }

    func runSessions() async throws -> Int {
        let users = users, seconds = seconds, prefix = prefix
        return try await withSessionLayer(port: port, room: room) { pool in
            var sessions: [(TinodeSession, String)] = []
            for index in 0..<users {
                let (session, _) = try await pool.logIn(
                    .register(login: "\(prefix)\(index)", password: "bench-pw-1", name: "p\(index)", email: "p\(index)@x.test"))
                let topic = self.topic(index)
                // The first pub to a group the session has not joined joins it (409, sub, retry).
                _ = try await session.publish(content: try JSONEncoder().encode("warm-up"), topic: topic)
                sessions.append((session, topic))
            }
            let content = try JSONEncoder().encode("benchmark message")
            let deadline = ContinuousClock.now + .seconds(seconds)
            return try await withThrowingTaskGroup(of: Int.self) { group in
                for (session, topic) in sessions {
                    group.addTask {
                        var done = 0
                        while ContinuousClock.now < deadline {
                            _ = try await session.publish(content: content, topic: topic)
                            done += 1
                        }
                        return done
                    }
                }
                return try await group.reduce(0, +)
            }
        }
    }

    func runRaw() async throws -> RawUser.Outcome {
        // Two HTTP/2 connections, as the session layer uses by default (TINODE_GRPC_CONNECTIONS).
        var options = TinodeLink.Options(host: "127.0.0.1", port: port)
        options.connections = 2
        let link = TinodeLink(options: options, logger: quietLogger())
        let users = users, seconds = seconds, prefix = prefix, pace = paceMs.map { Duration.milliseconds($0) }
        // This process's CPU time over the measured window (from when every user is set up): what a
        // minimal client spends per pub, the room's fan-out included, to set beside the Gateway's.
        let startLine = StartLine(expected: users)
        return try await withThrowingTaskGroup(of: RawUser.Outcome.self) { outer in
            outer.addTask {
                try await link.run()
                return RawUser.Outcome()
            }
            let total = try await withThrowingTaskGroup(of: RawUser.Outcome.self) { group in
                for index in 0..<users {
                    let topic = topic(index)
                    group.addTask {
                        try await RawUser.run(
                            link: link, login: "\(prefix)\(index)", room: topic, startLine: startLine, seconds: seconds, pace: pace)
                    }
                }
                var total = try await group.reduce(into: RawUser.Outcome()) { total, one in
                    total.acks += one.acks
                    total.latencies += one.latencies
                }
                total.cpuMilliseconds = processCPUMilliseconds() - (await startLine.cpuMillisecondsAtStart)
                return total
            }
            outer.cancelAll()
            return total
        }
    }
}
