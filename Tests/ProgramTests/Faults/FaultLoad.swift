import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// One request of a fault test's load, as it ended.
struct Outcome: Sendable {
    let started: ContinuousClock.Instant
    let duration: Duration
    /// nil when no HTTP answer came (connection refused or reset, client timeout).
    let status: Int?
    let hasRetryAfter: Bool
    let body: String
    /// What the request carried that the test verifies afterwards (a message text), if anything.
    let label: String?

    var succeeded: Bool { status.map { (200..<300).contains($0) } ?? false }
}

/// The outcomes of all workers, in the order they ended.
final class OutcomeLog: Sendable {
    private let outcomes = Mutex<[Outcome]>([])

    func append(_ outcome: Outcome) { outcomes.withLock { $0.append(outcome) } }
    var all: [Outcome] { outcomes.withLock { $0 } }

    func started(in range: Range<ContinuousClock.Instant>) -> [Outcome] { all.filter { range.contains($0.started) } }

    /// `requests=N ok=N 503=N ...` for the summary line every fault test prints last.
    func tally(_ outcomes: [Outcome]? = nil) -> String {
        var counts: [String: Int] = [:]
        for outcome in outcomes ?? all {
            let kind = outcome.status.map { outcome.succeeded ? "ok" : String($0) } ?? "no_answer"
            counts[kind, default: 0] += 1
        }
        let kinds = counts.keys.sorted().map { "\($0)=\(counts[$0]!)" }.joined(separator: " ")
        return "requests=\((outcomes ?? all).count) " + kinds
    }
}

/// A flag the load's workers poll between requests.
final class StopFlag: Sendable {
    private let stopped = Mutex(false)
    func stop() { stopped.withLock { $0 = true } }
    var isStopped: Bool { stopped.withLock { $0 } }
}

/// Runs `workers` loops until `flag` is set: each calls `operation(worker, iteration)` and then waits
/// about `pace` (between half and one and a half of it, so the workers do not march in step).
func steadyLoad(
    workers: Int, pace: Duration, until flag: StopFlag, log: OutcomeLog,
    _ operation: @escaping @Sendable (_ worker: Int, _ iteration: Int) async -> Outcome
) async {
    await withTaskGroup(of: Void.self) { group in
        for worker in 0..<workers {
            group.addTask {
                try? await Task.sleep(for: pace * Double.random(in: 0..<1))
                var iteration = 0
                while !flag.isStopped {
                    log.append(await operation(worker, iteration))
                    iteration += 1
                    try? await Task.sleep(for: pace * Double.random(in: 0.5..<1.5))
                }
            }
        }
    }
}

/// An HTTP client for the load: enough connections per host for every worker, bounded timeouts.
func makeLoadClient(connections: Int) -> HTTPClient {
    var configuration = HTTPClient.Configuration(timeout: .init(connect: .seconds(2), read: .seconds(15)))
    configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = connections
    return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
}

/// Sends one request and records how it ended; never throws.
func timedRequest(
    _ client: HTTPClient, _ method: HTTPMethod, _ url: String, body: String? = nil, headers: [(String, String)] = [],
    label: String? = nil, timeout: Duration = .seconds(15)
) async -> Outcome {
    var request = HTTPClientRequest(url: url)
    request.method = method
    for (name, value) in headers { request.headers.add(name: name, value: value) }
    if let body {
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: body))
    }
    let started = ContinuousClock.now
    do {
        let response = try await client.execute(request, timeout: .nanoseconds(Int64(timeout.seconds * 1e9)))
        let data = try await response.body.collect(upTo: 1 << 20)
        return Outcome(
            started: started, duration: .now - started, status: Int(response.status.code),
            hasRetryAfter: response.headers.first(name: "Retry-After") != nil, body: String(buffer: data), label: label)
    } catch {
        return Outcome(started: started, duration: .now - started, status: nil, hasRetryAfter: false, body: "\(error)", label: label)
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
    var milliseconds: Int { Int(seconds * 1000) }
}

/// Runs `workers` loops until `flag` is set, each calling `operation(worker, iteration)` once per
/// `interval` on a fixed schedule (worker `w` starts at `w/workers` of an interval), so that the
/// rate stays `workers / interval` whatever each request takes; a request that overruns its slot
/// delays only its own worker's next one.
func pacedLoad(
    workers: Int, interval: Duration, until flag: StopFlag, log: OutcomeLog,
    _ operation: @escaping @Sendable (_ worker: Int, _ iteration: Int) async -> Outcome
) async {
    let start = ContinuousClock.now
    await withTaskGroup(of: Void.self) { group in
        for worker in 0..<workers {
            group.addTask {
                var next = start + interval * (Double(worker) / Double(workers))
                var iteration = 0
                while !flag.isStopped {
                    try? await Task.sleep(until: next, clock: .continuous)
                    if flag.isStopped { break }
                    log.append(await operation(worker, iteration))
                    iteration += 1
                    next = max(next + interval, .now)
                }
            }
        }
    }
}

/// The value of a Prometheus counter line (`name{labels} value`), summed over the lines whose name
/// and labels start with `prefix` and that `include` accepts.
func metricSum(_ text: String, _ prefix: String, include: (Substring) -> Bool = { _ in true }) -> Double {
    text.split(separator: "\n").filter { $0.hasPrefix(prefix) && include($0) }
        .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0, +)
}
