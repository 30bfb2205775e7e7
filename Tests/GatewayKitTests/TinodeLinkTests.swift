import Foundation
import GRPCOverHTTP2
import GatewayKit
import Logging
import NIOCore
import NIOHTTP2
import NIOPosix
import Synchronization
import Testing
import TinodeDouble
import TinodeProto

/// The Gateway's HTTP/2 link to Tinode under Tinode's own wire habits: grpc-go pings once for every
/// message it receives (tinode-protocol.md section 9), which the link must take as normal traffic,
/// while a peer that pings without being sent anything is still cut off.
@Suite("Tinode link", .serialized)
struct TinodeLinkTests {
    @Test("1,000 requests one after another on one connection, Tinode pinging after each: no stream or connection lost")
    func pingPerRequestHolds() async throws {
        try await SessionHarness.run(connections: 1) { harness in
            let (session, _) = try await harness.register("lena")
            let pingsBefore = harness.double.wireCounters.pingsSent
            for index in 1...1_000 {
                if index.isMultiple(of: 2) {
                    _ = try await session.publish(content: Data("\"m\(index)\"".utf8))
                } else {
                    _ = try await session.history(limit: 1)
                }
            }
            let pings = harness.double.wireCounters.pingsSent - pingsBefore
            // The double pings like grpc-go: one per client message while none is unanswered, so a
            // request at a time draws one PING each. Far beyond NIO's default of 200 per 30 s.
            #expect(pings >= 900, "the double sent \(pings) PINGs for 1,000 requests: the grpc-go wire is not emulated")
            let statistics = harness.connector.statistics
            #expect(statistics.opened == 1, "connections opened: \(statistics)")
            #expect(statistics.lost == 0, "connections lost: \(statistics)")
        }
    }

    @Test("50 users on one connection, 40 requests each at once: every answer arrives, no connection lost")
    func concurrentUsersOnOneConnection() async throws {
        try await SessionHarness.run(connections: 1) { harness in
            var sessions: [TinodeSession] = []
            for index in 0..<50 { sessions.append(try await harness.register("user\(index)").0) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for session in sessions {
                    group.addTask {
                        for index in 1...40 {
                            if index.isMultiple(of: 2) {
                                _ = try await session.publish(content: Data("\"c\(index)\"".utf8))
                            } else {
                                _ = try await session.history(limit: 5)
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let statistics = harness.connector.statistics
            #expect(statistics.lost == 0, "connections lost: \(statistics)")
        }
    }

    @Test("a server that pings without being sent anything is cut off with GOAWAY ENHANCE_YOUR_CALM, and the request fails as unavailable")
    func pingFloodIsCutOff() async throws {
        let server = try await PingFloodServer.start(pings: 400)
        defer { server.stop() }
        let link = TinodeLink(options: .init(host: "127.0.0.1", port: server.port), logger: SessionHarness.logger)
        try await withLinkRunning(link) {
            let tasks = BackgroundTasks()
            let session = TinodeSession(
                login: .basic(login: "anyone", password: "secret-1"), connector: link, tasks: tasks,
                settings: SessionHarness.testSettings(), logger: SessionHarness.logger)
            let start = ContinuousClock.now
            await #expect(throws: TinodeSessionError.self) { try await session.connect() }
            #expect(ContinuousClock.now - start < .seconds(5), "the flood was not cut off quickly")
            await session.close()
        }
        // The close is counted when the channel has closed, and the server reads the GOAWAY on its own
        // event loop: both a moment after the session gave up.
        let deadline = ContinuousClock.now + .seconds(5)
        while server.goAwayCodes.isEmpty || link.statistics.closed.isEmpty, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let statistics = link.statistics
        #expect(statistics.closed["control_frame_flood", default: 0] >= 1, "\(statistics)")
        let goAway = try #require(server.goAwayCodes.first, "the server got no GOAWAY")
        #expect(goAway == .enhanceYourCalm)
        // The allowance is 200 unearned control frames (the SETTINGS exchange takes one or two); each
        // PING the link took was acknowledged before the cut.
        let acknowledged = server.acknowledgedPings
        #expect(acknowledged > 150 && acknowledged <= 260, "cut off after \(acknowledged) PINGs")
    }

    @Test("a lost connection: a history read in flight is sent again and answered, a send in flight fails fast as unavailable")
    func lostConnectionInFlight() async throws {
        try await SessionHarness.run(connections: 1) { harness in
            let (session, _) = try await harness.register("mira")
            _ = try await session.publish(content: Data("\"before\"".utf8))

            // A read whose reply never comes on this connection; then the connection is lost.
            harness.double.dropNextReplies(kind: "get", count: 1)
            let read = Task { try await session.history(limit: 5) }
            try await Task.sleep(for: .milliseconds(300))
            harness.double.dropConnections()
            let page = try await read.value
            #expect(page.messages.map(\.seq) == [1], "the read was not answered after the reconnect")

            // A send whose ack never comes: it may have been stored, so it is not sent again.
            harness.double.dropNextReplies(kind: "pub", count: 1)
            let start = ContinuousClock.now
            let send = Task { try await session.publish(content: Data("\"during\"".utf8)) }
            try await Task.sleep(for: .milliseconds(300))
            harness.double.dropConnections()
            await #expect {
                _ = try await send.value
            } throws: { error in
                if case .unavailable = error as? TinodeSessionError { return true }
                return false
            }
            // Not the 10 s request timeout: the stream's end fails it at once.
            #expect(ContinuousClock.now - start < .seconds(3))
            #expect(harness.double.messages(inTopic: harness.room).count == 2, "the dropped pub was stored once")
            // The session carries on on a new connection.
            _ = try await session.publish(content: Data("\"after\"".utf8))
            let deadline = ContinuousClock.now + .seconds(5)
            while harness.connector.statistics.closed["peer_closed", default: 0] < 2, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            let statistics = harness.connector.statistics
            #expect(statistics.closed["peer_closed", default: 0] == 2, "\(statistics)")
            #expect(statistics.opened == 3, "\(statistics)")
        }
    }

    @Test("through the HTTP API: a send in flight when the connection is lost is answered 503 with Retry-After")
    func lostConnectionAnswers503() async throws {
        try await GatewayHarness.run { gateway in
            let (_, tokens) = try await gateway.register("nils")
            let token = try #require(tokens["access_token"] as? String)
            let first = try await gateway.request(.post, "/v1/messages", json: ["text": "warm"], token: token)
            #expect(first.status == 201)
            gateway.double.dropNextReplies(kind: "pub", count: 1)
            let send = Task { try await gateway.request(.post, "/v1/messages", json: ["text": "lost"], token: token) }
            try await Task.sleep(for: .milliseconds(300))
            gateway.double.dropConnections()
            let reply = try await send.value
            #expect(reply.status == 503, "\(reply.status) \(reply.text)")
            #expect(reply.headers[.retryAfter] != nil)
            #expect(reply.errorCode == "service_unavailable")
            let again = try await gateway.request(.post, "/v1/messages", json: ["text": "again"], token: token)
            #expect(again.status == 201, "the next send did not go through: \(again.status) \(again.text)")
        }
    }

    @Test("keepalive PINGs every 2 s on an idle session stay within Tinode's policy: no too_many_pings, no lost connection")
    func keepaliveWithinTinodePolicy() async throws {
        let double = try await TinodeDouble.start()
        defer { Task { await double.stop() } }
        _ = try double.createUser(login: "kate", password: "kate-password", name: "Kate")
        var options = TinodeLink.Options(host: "127.0.0.1", port: double.port)
        options.connections = 1
        options.keepalive = .seconds(2)
        let link = TinodeLink(options: options, logger: SessionHarness.logger)
        try await withLinkRunning(link) {
            let tasks = BackgroundTasks()
            var settings = SessionHarness.testSettings()
            settings.heartbeatInterval = .seconds(600)  // only the keepalive speaks while idle
            let session = TinodeSession(
                login: .basic(login: "kate", password: "kate-password"), connector: link, tasks: tasks, settings: settings,
                logger: SessionHarness.logger)
            _ = try await session.connect()
            let acksBefore = double.wireCounters
            try await Task.sleep(for: .seconds(7))
            _ = try await session.displayName()
            let counters = double.wireCounters
            #expect(link.statistics.keepalivePings >= 2, "keepalive PINGs sent: \(link.statistics.keepalivePings)")
            #expect(counters.tooManyPingsGoAways == acksBefore.tooManyPingsGoAways, "Tinode's policy was broken: \(counters)")
            #expect(link.statistics.lost == 0, "\(link.statistics)")
            await session.close()
        }
    }

    private func withLinkRunning(_ link: TinodeLink, _ body: () async throws -> Void) async throws {
        let running = Task { try await link.run() }
        defer { running.cancel() }
        try await body()
    }
}

/// A hostile HTTP/2 server: once the client's SETTINGS arrive it sends `pings` PINGs as fast as it
/// can and answers nothing else. Its own NIO flood limit is raised so that our ACKs do not make it
/// give up first.
final class PingFloodServer: Sendable {
    let port: Int
    private let channel: any Channel
    private let record = Mutex<(goAways: [HTTP2ErrorCode], acks: Int)>(([], 0))

    var goAwayCodes: [HTTP2ErrorCode] { record.withLock { $0.goAways } }
    var acknowledgedPings: Int { record.withLock { $0.acks } }

    private init(channel: any Channel) {
        self.channel = channel
        port = channel.localAddress?.port ?? 0
    }

    static func start(pings: Int) async throws -> PingFloodServer {
        let holder = Mutex<PingFloodServer?>(nil)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    var connection = NIOHTTP2Handler.ConnectionConfiguration()
                    connection.controlFrameRateLimit.maximumCount = 100_000
                    _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                        mode: .server, connectionConfiguration: connection, streamConfiguration: .init()
                    ) { stream in
                        stream.eventLoop.makeSucceededVoidFuture()  // streams are accepted and never answered
                    }
                    try channel.pipeline.syncOperations.addHandler(
                        Flooder(pings: pings) { event in
                            holder.withLock { $0 }?.record.withLock { record in
                                switch event {
                                case .goAway(let code): record.goAways.append(code)
                                case .ack: record.acks += 1
                                }
                            }
                        })
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let server = PingFloodServer(channel: channel)
        holder.withLock { $0 = server }
        return server
    }

    func stop() {
        channel.close(promise: nil)
    }

    private final class Flooder: ChannelInboundHandler {
        typealias InboundIn = HTTP2Frame
        typealias OutboundOut = HTTP2Frame

        enum Event {
            case goAway(HTTP2ErrorCode)
            case ack
        }

        private let pings: Int
        private let report: (Event) -> Void
        private var started = false

        init(pings: Int, report: @escaping (Event) -> Void) {
            self.pings = pings
            self.report = report
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let frame = unwrapInboundIn(data)
            switch frame.payload {
            case .settings(.settings) where !started:
                started = true
                for index in 0..<pings {
                    guard context.channel.isActive else { break }
                    let ping = HTTP2Frame(streamID: .rootStream, payload: .ping(HTTP2PingData(withInteger: UInt64(index)), ack: false))
                    context.writeAndFlush(wrapOutboundOut(ping), promise: nil)
                }
            case .goAway(_, let code, _):
                report(.goAway(code))
            case .ping(_, ack: true):
                report(.ack)
            default:
                break
            }
            context.fireChannelRead(data)
        }
    }
}
