// bench/authplugin-plugin.sh: FireHose beside an empty unary RPC of the same gRPC server.
//
//   PluginBench [rounds] [seconds] [concurrency]
//
// Starts AuthPlugin's plugin server (PluginGRPCServer with PluginService, policies on, metrics to
// Prometheus as in production) on a loopback port, with one extra service whose only RPC returns an
// empty message at once: the baseline, served by the same server, routing and allow-list.
// `concurrency` callers on one HTTP/2 connection (as Tinode's single plugin connection) call one RPC
// in a loop for `seconds`; each round measures the baseline, then FireHose with a `{pub}` from a
// logged-in session (the message Tinode sends most; answered CONTINUE), then FireHose with `{hi}`.
// Prints calls per second and p99 latency per round, then medians and the ratio to the baseline.

import AuthPluginKit
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import SidecarCore
import SidecarServer
import SwiftProtobuf
import Synchronization
import TinodeProto

/// The baseline: `bench.Empty/Call`, `Unused` in and out, nothing done, answered at once: a route
/// of the same server as FireHose.
enum EmptyService {
    static let method = MethodDescriptor(fullyQualifiedService: "bench.Empty", method: "Call")
    static let route = UnaryRoute(method) { (_: Pbx_Unused) in UnaryAnswer.now(Pbx_Unused()) }
}

struct Measurement {
    let callsPerSecond: Double
    let p99Milliseconds: Double
}

/// `concurrency` callers in a loop for `seconds`. With `pace`, each caller waits a random 0 to 2 *
/// `pace` between its calls (not part of the measured latency): latency at a load below saturation.
func measure(
    seconds: Double, concurrency: Int, pace: Duration? = nil, _ call: @escaping @Sendable () async throws -> Void
) async throws -> Measurement {
    let started = ContinuousClock.now
    let deadline = started + .milliseconds(Int(seconds * 1000))
    let latencies = try await withThrowingTaskGroup(of: [Int64].self) { group in
        for _ in 0..<concurrency {
            group.addTask {
                var samples: [Int64] = []
                samples.reserveCapacity(200_000)
                while ContinuousClock.now < deadline {
                    if let pace { try await Task.sleep(for: pace * Double.random(in: 0...2)) }
                    let begin = ContinuousClock.now
                    try await call()
                    let elapsed = ContinuousClock.now - begin
                    samples.append(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
                }
                return samples
            }
        }
        var all: [Int64] = []
        for try await samples in group { all += samples }
        return all.sorted()
    }
    let elapsed = ContinuousClock.now - started
    let total = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    let p99 = latencies.isEmpty ? 0 : Double(latencies[min(latencies.count - 1, Int(Double(latencies.count) * 0.99))]) / 1e6
    return Measurement(callsPerSecond: Double(latencies.count) / total, p99Milliseconds: p99)
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

// `PluginBench [rounds] [seconds] [concurrency]`: server and callers in this process.
// `PluginBench serve`: only the server; prints `port=N`, runs until SIGTERM or SIGINT.
// `PluginBench load PORT [rounds] [seconds] [concurrency]`: only the callers, against PORT
// (as Tinode is: another process).
// `PluginBench pinging PORT [rounds] [seconds] [concurrency] [connections]`: FireHose `{pub}` from
// callers that ping like Tinode's grpc-go client (``PingingCaller``), `concurrency` calls in flight
// on each of `connections` (default 1) connections; with `PACE_MS` set, paced as the paced runs.
// Exits 1 when the server ended a connection or a call failed.
// `PluginBench bodies DIR`: writes the gRPC-framed request bodies of the three calls (`empty.bin`,
// `firehose_pub.bin`, `firehose_hi.bin`) for an HTTP/2 load tool such as h2load.
var arguments = Array(CommandLine.arguments.dropFirst())
let mode = arguments.first.flatMap { ["serve", "serve-floor", "load", "pinging", "bodies"].contains($0) ? $0 : nil } ?? "both"
if mode != "both" { arguments.removeFirst() }
let remotePort = mode == "load" || mode == "pinging" ? Int(arguments.removeFirst()) : nil
let bodiesDirectory = mode == "bodies" ? arguments.removeFirst() : nil
let rounds = arguments.count > 0 ? Int(arguments[0]) ?? 3 : 3
let seconds = arguments.count > 1 ? Double(arguments[1]) ?? 5 : 5
let concurrency = arguments.count > 2 ? Int(arguments[2]) ?? 32 : 32
let connectionCount = arguments.count > 3 ? Int(arguments[3]) ?? 1 : 1
/// `PACE_MS` (default 5): the mean wait of each caller between its calls in the paced runs.
let paceMilliseconds = Int(ProcessInfo.processInfo.environment["PACE_MS"] ?? "") ?? 5

// As in AuthPlugin (ProgramRunner): Swift Concurrency's tasks run on NIO's event loops.
// `EXECUTOR=default` keeps Swift's own pool, for comparing the two.
if ProcessInfo.processInfo.environment["EXECUTOR"] != "default" {
    NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
}
Observability.bootstrap(logLevel: .error)
let logger = {
    var logger = Logger(label: "PluginBench")
    logger.logLevel = .error
    return logger
}()

/// The plugin server as AuthPlugin builds it (policies on, metrics to Prometheus), plus the baseline.
func makeServer() throws -> PluginGRPCServer {
    let metrics = PluginMetrics()
    let settings = PluginSettings(
        loginAttemptsPerMinute: 20, maxPubBytes: 65536, canonicalLogins: true, findEmails: true, webhooks: nil)
    let service = PluginService(
        settings: settings, rateLimiter: InMemoryRateLimiter(), provenAddresses: InMemoryProvenAddressStore(),
        loginNames: try LoginNameMapper(), webhooks: nil, metrics: metrics, logger: logger)
    return PluginGRPCServer(
        address: NetworkAddress(host: "127.0.0.1", port: 0), routes: service.routes + [EmptyService.route],
        allowedNetworks: NetworkAllowList(parsing: "127.0.0.0/8")!, metrics: metrics, logger: logger)
}

let pub = Pbx_ClientReq.with {
    $0.msg = .with {
        $0.pub = .with {
            $0.id = "1042"
            $0.topic = "grpRoom0000001"
            $0.head = ["mime": Data(#""text/x-drafty""#.utf8)]
            $0.content = Data(#"{"txt":"Hello everyone, the build is green again.","fmt":[{"at":6,"len":8,"tp":"ST"}]}"#.utf8)
        }
    }
    $0.sess = .with {
        $0.sessionID = "Bw8cm1lD9vE"
        $0.userID = "usrAlice000001"
        $0.authLevel = .auth
        $0.remoteAddr = "203.0.113.7:41000"
        $0.userAgent = "TinodeWeb/0.25.3 (Linux) tn-sdk"
        $0.language = "en-US"
    }
}
let hi = Pbx_ClientReq.with {
    $0.msg = .with {
        $0.hi = .with {
            $0.id = "1"; $0.ver = "0.25"; $0.userAgent = "TinodeWeb/0.25.3"
        }
    }
    $0.sess = .with {
        $0.sessionID = "Bw8cm1lD9vE"; $0.remoteAddr = "203.0.113.7:41000"
    }
}

/// Runs the measurement rounds against the server on `port` and prints the figures.
func load(port: Int) async throws {
    let transport = try HTTP2ClientTransport.Posix(target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext)
    try await withGRPCClient(transport: transport) { client in
        let plugin = Pbx_Plugin.Client(wrapping: client)
        let empty: @Sendable () async throws -> Void = {
            _ = try await client.unary(
                request: ClientRequest(message: Pbx_Unused()), descriptor: EmptyService.method,
                serializer: ProtobufSerializer<Pbx_Unused>(), deserializer: ProtobufDeserializer<Pbx_Unused>(), options: .defaults
            ) { try $0.message }
        }
        let fireHosePub: @Sendable () async throws -> Void = {
            let answer = try await plugin.fireHose(pub)
            precondition(answer.status == .continue, "FireHose did not continue a small pub")
        }
        let fireHoseHi: @Sendable () async throws -> Void = {
            _ = try await plugin.fireHose(hi)
        }
        print("# \(ProcessInfo.processInfo.activeProcessorCount) cores; \(rounds) rounds of \(seconds) s; \(concurrency) concurrent calls")
        // Warm-up: connections, allocations, metric registration.
        _ = try await measure(seconds: 1, concurrency: concurrency, empty)
        _ = try await measure(seconds: 1, concurrency: concurrency, fireHosePub)
        var results: [String: [Measurement]] = [:]
        let pace = Duration.milliseconds(paceMilliseconds)
        let runs: [(String, Duration?, @Sendable () async throws -> Void)] = [
            ("empty_rpc", nil, empty), ("firehose_pub", nil, fireHosePub), ("firehose_hi", nil, fireHoseHi),
            ("paced_empty_rpc", pace, empty), ("paced_firehose_pub", pace, fireHosePub),
        ]
        for round in 1...rounds {
            for (name, pace, call) in runs {
                let measured = try await measure(seconds: seconds, concurrency: concurrency, pace: pace, call)
                results[name, default: []].append(measured)
                print(
                    String(
                        format: "round=%d %@_per_s=%.0f %@_p99_ms=%.2f", round, name, measured.callsPerSecond, name,
                        measured.p99Milliseconds))
            }
        }
        let baseline = median(results["empty_rpc"]!.map(\.callsPerSecond))
        print(String(format: "empty_rpc_per_s=%.0f empty_rpc_p99_ms=%.2f", baseline, median(results["empty_rpc"]!.map(\.p99Milliseconds))))
        for name in ["firehose_pub", "firehose_hi"] {
            let rate = median(results[name]!.map(\.callsPerSecond))
            print(
                String(
                    format: "%@_per_s=%.0f %@_p99_ms=%.2f ratio=%.2f (target >= 0.70, p99 < 2 ms)", name, rate, name,
                    median(results[name]!.map(\.p99Milliseconds)), rate / baseline))
        }
        print(
            String(
                format: "paced (each caller waits 0 to %d ms between calls): empty_rpc_per_s=%.0f empty_rpc_p99_ms=%.2f "
                    + "firehose_pub_per_s=%.0f firehose_pub_p99_ms=%.2f",
                2 * paceMilliseconds, median(results["paced_empty_rpc"]!.map(\.callsPerSecond)),
                median(results["paced_empty_rpc"]!.map(\.p99Milliseconds)), median(results["paced_firehose_pub"]!.map(\.callsPerSecond)),
                median(results["paced_firehose_pub"]!.map(\.p99Milliseconds))))
    }
}

/// Rounds of FireHose `{pub}` from ``PingingCaller`` against the server on `port`; prints each
/// round, then the medians and the totals. False when a connection was ended by the server or a
/// call failed.
func pingingLoad(port: Int) async throws -> Bool {
    let body = ByteBuffer(bytes: Array(try grpcFramed(pub)))
    let pace = ProcessInfo.processInfo.environment["PACE_MS"].flatMap(Int.init).map { TimeAmount.milliseconds(Int64($0)) }
    print(
        "# \(rounds) rounds of \(seconds) s; \(concurrency) calls in flight on each of \(connectionCount) connection(s), "
            + "a PING per DATA frame received while none is unanswered"
            + (pace.map { "; each call waits 0 to \(2 * $0.nanoseconds / 1_000_000) ms before the next" } ?? ""))
    var total = PingingCaller.Figures()
    var rates: [Double] = []
    var p99s: [Double] = []
    for round in 1...rounds {
        let figures = try await PingingCaller.run(
            port: port, connections: connectionCount, inFlight: concurrency, seconds: seconds, pace: pace,
            path: "/pbx.Plugin/FireHose", body: body)
        total.add(figures)
        rates.append(figures.callsPerSecond)
        p99s.append(figures.p99Milliseconds)
        print(
            String(
                format: "round=%d pinging_firehose_pub_per_s=%.0f pinging_firehose_pub_p99_ms=%.2f pings_sent=%d failed=%d "
                    + "connections_closed_by_server=%d",
                round, figures.callsPerSecond, figures.p99Milliseconds, figures.pingsSent, figures.failed, figures.closedByServer))
    }
    print(
        String(
            format: "pinging_firehose_pub_per_s=%.0f pinging_firehose_pub_p99_ms=%.2f calls=%d failed=%d pings_sent=%d pings_acked=%d "
                + "connections_opened=%d connections_closed_by_server=%d (must be 0)",
            median(rates), median(p99s), total.calls, total.failed, total.pingsSent, total.pingAcks, total.connectionsOpened,
            total.closedByServer))
    return total.closedByServer == 0 && total.failed == 0
}

/// One gRPC message as it travels in a request body: uncompressed flag, big-endian length, bytes.
func grpcFramed(_ message: some SwiftProtobuf.Message) throws -> Data {
    let bytes: Data = try message.serializedBytes()
    let length = UInt32(bytes.count)
    return Data([0, UInt8(length >> 24), UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff)]) + bytes
}

switch mode {
case "bodies":
    let directory = URL(fileURLWithPath: bodiesDirectory ?? ".")
    try grpcFramed(Pbx_Unused()).write(to: directory.appendingPathComponent("empty.bin"))
    try grpcFramed(pub).write(to: directory.appendingPathComponent("firehose_pub.bin"))
    try grpcFramed(hi).write(to: directory.appendingPathComponent("firehose_hi.bin"))
case "serve":
    let server = try makeServer()
    let group = ServiceGroup(services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        FileHandle.standardOutput.write(Data("port=\(try await server.listeningPort)\n".utf8))
        try await tasks.next()
    }
case "serve-floor":
    let (port, channel) = try await FloorServer.start()
    FileHandle.standardOutput.write(Data("port=\(port)\n".utf8))
    try await channel.closeFuture.get()
case "load":
    try await load(port: remotePort ?? 0)
case "pinging":
    if !(try await pingingLoad(port: remotePort ?? 0)) { exit(1) }
default:
    let server = try makeServer()
    let group = ServiceGroup(services: [server], gracefulShutdownSignals: [], logger: logger)
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        try await load(port: try await server.listeningPort)
        await group.triggerGracefulShutdown()
        try await tasks.next()
    }
}
