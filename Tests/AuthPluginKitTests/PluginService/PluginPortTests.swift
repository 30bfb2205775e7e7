import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCOverHTTP2
import GRPCProtobuf
import Logging
import NIOCore
import NIOHPACK
import ServiceLifecycle
import SidecarCore
import SwiftProtobuf
import Synchronization
import TestSupport
import Testing
import TinodeProto

@testable import AuthPluginKit

/// The plugin port's gRPC server (`PluginGRPCServer`, written on NIO's HTTP/2) against grpc-swift's
/// client: what a gRPC caller other than Tinode's could send, deadlines, answers that arrive out of
/// order, and graceful shutdown. The plugin's own RPCs are tested in the other plugin suites.
@Suite("pbx.Plugin port: unary gRPC over HTTP/2", .serialized)
struct PluginPortTests {
    typealias Client = GRPCClient<HTTP2ClientTransport.Posix>

    static let echo = MethodDescriptor(fullyQualifiedService: "test.Port", method: "Echo")
    static let slow = MethodDescriptor(fullyQualifiedService: "test.Port", method: "Slow")

    /// Calls of `test.Port/Slow` that have started, and those whose work was cancelled.
    final class SlowCalls: Sendable {
        let started = Mutex(0)
        let cancelled = Mutex(0)
    }

    /// `Echo` answers a ClientReq with a ctrl carrying its `{hi}` id: at once for even ids, from a
    /// task after a short random wait for odd ones. `Slow` sleeps `slowFor`, then answers.
    static func routes(slowFor: Duration, calls: SlowCalls) -> [UnaryRoute] {
        let echo = UnaryRoute(Self.echo) { (request: Pbx_ClientReq) -> UnaryAnswer<Pbx_ServerResp> in
            let id = request.msg.hi.id
            let answer = Pbx_ServerResp.with { $0.srvmsg.ctrl.id = id }
            guard (Int(id) ?? 0) % 2 == 1 else { return .now(answer) }
            return .later {
                try? await Task.sleep(for: .milliseconds(Int.random(in: 0...20)))
                return answer
            }
        }
        let slow = UnaryRoute(Self.slow) { (_: Pbx_Unused) -> UnaryAnswer<Pbx_Unused> in
            .later {
                calls.started.withLock { $0 += 1 }
                do {
                    try await Task.sleep(for: slowFor)
                } catch {
                    calls.cancelled.withLock { $0 += 1 }
                }
                return Pbx_Unused()
            }
        }
        return [echo, slow]
    }

    /// A server with the test routes in a service group, and a client; `body` gets the client, a
    /// way to start graceful shutdown, and the server's port. Returns once the group has stopped.
    static func withPort(
        idleTimeout: Duration = .seconds(60), drainLimit: Duration = .seconds(10), slowFor: Duration = .seconds(30),
        calls: SlowCalls = SlowCalls(), compression: Bool = false, limits: PluginPortLimits = PluginPortLimits(),
        _ body: @escaping @Sendable (Client, ServiceGroup, Int) async throws -> Void
    ) async throws {
        var logger = Logger(label: "PluginPortTests")
        logger.logLevel = .critical
        let server = PluginGRPCServer(
            address: NetworkAddress(host: "127.0.0.1", port: 0), routes: routes(slowFor: slowFor, calls: calls),
            allowedNetworks: NetworkAllowList(parsing: "127.0.0.0/8")!, idleTimeout: idleTimeout, drainLimit: drainLimit,
            limits: limits, metrics: PluginMetrics(), logger: logger)
        let group = ServiceGroup(services: [server], gracefulShutdownSignals: [], logger: logger)
        try await whileRunning(group) {
            let port = try await server.listeningPort
            let transport = try HTTP2ClientTransport.Posix(
                target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext,
                config: .defaults { config in
                    if compression { config.compression = .init(algorithm: .gzip, enabledAlgorithms: .all) }
                })
            try await withGRPCClient(transport: transport) { client in try await body(client, group, port) }
        }
    }

    static func call<Request: SwiftProtobuf.Message & Sendable, Response: SwiftProtobuf.Message & Sendable>(
        _ client: Client, _ method: MethodDescriptor, _ request: Request,
        returning: Response.Type, options: CallOptions = .defaults
    ) async throws -> Response {
        try await client.unary(
            request: ClientRequest(message: request), descriptor: method, serializer: ProtobufSerializer<Request>(),
            deserializer: ProtobufDeserializer<Response>(), options: options
        ) { try $0.message }
    }

    /// Sends the bytes as they are, as the request message.
    struct RawBytes: MessageSerializer {
        func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes { Bytes(message) }
    }

    static func rawCall(_ client: Client, _ method: MethodDescriptor, _ bytes: [UInt8]) async throws {
        _ = try await client.unary(
            request: ClientRequest(message: bytes), descriptor: method, serializer: RawBytes(),
            deserializer: ProtobufDeserializer<Pbx_ServerResp>(), options: .defaults
        ) { try $0.message }
    }

    static func hello(_ id: Int) -> Pbx_ClientReq {
        .with { $0.msg.hi.id = String(id) }
    }

    @Test("every answer reaches its own call, whether decided at once or from a task, 100 calls in flight")
    func answersFindTheirCalls() async throws {
        try await Self.withPort { (client: Client, _: ServiceGroup, _: Int) async throws in
            try await withThrowingTaskGroup(of: (Int, String).self) { calls in
                for id in 0..<100 {
                    calls.addTask {
                        let answer = try await Self.call(client, Self.echo, Self.hello(id), returning: Pbx_ServerResp.self)
                        return (id, answer.srvmsg.ctrl.id)
                    }
                }
                var answered = 0
                for try await (id, echoed) in calls {
                    #expect(echoed == String(id), "call \(id) got the answer of call \(echoed)")
                    answered += 1
                }
                #expect(answered == 100)
            }
        }
    }

    @Test("a method the port does not serve is UNIMPLEMENTED; the connection keeps working")
    func unknownMethod() async throws {
        try await Self.withPort { (client: Client, _: ServiceGroup, _: Int) async throws in
            let error = await #expect(throws: RPCError.self) {
                _ = try await Self.call(
                    client, MethodDescriptor(fullyQualifiedService: "pbx.Plugin", method: "Nope"), Pbx_Unused(),
                    returning: Pbx_Unused.self)
            }
            #expect(error?.code == .unimplemented)
            #expect(error?.message.contains("pbx.Plugin/Nope") == true)
            #expect(try await Self.call(client, Self.echo, Self.hello(2), returning: Pbx_ServerResp.self).srvmsg.ctrl.id == "2")
        }
    }

    @Test("a body that is not the method's message is INTERNAL, named; the connection keeps working")
    func undecodableRequest() async throws {
        try await Self.withPort { (client: Client, _: ServiceGroup, _: Int) async throws in
            let error = await #expect(throws: RPCError.self) {
                try await Self.rawCall(client, Self.echo, [0xFF, 0xFF, 0xFF, 0xFF])
            }
            #expect(error?.code == .internalError)
            #expect(error?.message.contains("pbx.ClientReq") == true)
            #expect(try await Self.call(client, Self.echo, Self.hello(4), returning: Pbx_ServerResp.self).srvmsg.ctrl.id == "4")
        }
    }

    @Test("a request over the limit (2 MiB by default) is RESOURCE_EXHAUSTED; one just under passes the size check")
    func oversizedRequest() async throws {
        let limit = PluginPortLimits().maximumMessageBytes
        #expect(limit == 2 << 20)
        try await Self.withPort { (client: Client, _: ServiceGroup, _: Int) async throws in
            let error = await #expect(throws: RPCError.self) {
                try await Self.rawCall(client, Self.echo, [UInt8](repeating: 0, count: limit + 1))
            }
            #expect(error?.code == .resourceExhausted)
            // A valid ClientReq of almost the limit: a `{pub}` with a large content.
            let large = Pbx_ClientReq.with {
                $0.msg.pub.id = "9"
                $0.msg.pub.content = Data(count: limit - 64)
            }
            let answer = try await Self.call(client, Self.echo, large, returning: Pbx_ServerResp.self)
            #expect(answer.srvmsg.ctrl.id == "")
        }
    }

    @Test("a compressed request is UNIMPLEMENTED (the port advertises no compression)")
    func compressedRequest() async throws {
        try await Self.withPort(compression: true) { (client: Client, _: ServiceGroup, _: Int) async throws in
            var options = CallOptions.defaults
            options.compression = .gzip
            let error = await #expect(throws: RPCError.self) {
                _ = try await Self.call(client, Self.echo, Self.hello(6), returning: Pbx_ServerResp.self, options: options)
            }
            #expect(error?.code == .unimplemented)
        }
    }

    @Test("a call without grpc-timeout still ends at the port's limit: DEADLINE_EXCEEDED, its work cancelled")
    func callLimit() async throws {
        let calls = SlowCalls()
        try await Self.withPort(idleTimeout: .seconds(1), calls: calls) { (client: Client, _: ServiceGroup, _: Int) async throws in
            let started = ContinuousClock.now
            let error = await #expect(throws: RPCError.self) {
                _ = try await Self.call(client, Self.slow, Pbx_Unused(), returning: Pbx_Unused.self)
            }
            let took = ContinuousClock.now - started
            #expect(error?.code == .deadlineExceeded)
            #expect(took >= .milliseconds(900) && took < .seconds(10), "ended after \(took)")
            // The cancellation reaches the sleeping task soon after the answer (a loaded machine may be slow).
            for _ in 0..<500 where calls.cancelled.withLock({ $0 }) == 0 { try await Task.sleep(for: .milliseconds(20)) }
            #expect(calls.cancelled.withLock { $0 } == 1)
        }
    }

    @Test("graceful shutdown lets the calls in flight finish, then stops")
    func shutdownDrainsCalls() async throws {
        let calls = SlowCalls()
        try await Self.withPort(slowFor: .milliseconds(700), calls: calls) { (client: Client, group: ServiceGroup, _: Int) async throws in
            try await withThrowingTaskGroup(of: Void.self) { inFlight in
                for _ in 0..<5 {
                    inFlight.addTask { _ = try await Self.call(client, Self.slow, Pbx_Unused(), returning: Pbx_Unused.self) }
                }
                for _ in 0..<500 where calls.started.withLock({ $0 }) < 5 { try await Task.sleep(for: .milliseconds(20)) }
                #expect(calls.started.withLock { $0 } == 5)
                await group.triggerGracefulShutdown()
                // Every call in flight gets its answer (a failure would throw here).
                try await inFlight.waitForAll()
            }
            #expect(calls.cancelled.withLock { $0 } == 0)
            // The port no longer takes calls.
            await #expect(throws: RPCError.self) {
                var options = CallOptions.defaults
                options.timeout = .seconds(2)
                _ = try await Self.call(client, Self.echo, Self.hello(8), returning: Pbx_ServerResp.self, options: options)
            }
        }
    }

    /// One HTTP/2 frame as the raw peer sees it. Types: 0 DATA, 1 HEADERS, 3 RST_STREAM, 7 GOAWAY.
    struct Frame: Sendable {
        let type: UInt8
        let flags: UInt8
        let stream: UInt32
        let payload: [UInt8]

        var endsStream: Bool { flags & 1 == 1 && (type == 0 || type == 1) }

        /// The encoded frame.
        static func bytes(type: UInt8, flags: UInt8, stream: UInt32, _ payload: [UInt8]) -> [UInt8] {
            let length = payload.count
            return [UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF), type, flags]
                + [UInt8(stream >> 24 & 0x7F), UInt8(stream >> 16 & 0xFF), UInt8(stream >> 8 & 0xFF), UInt8(stream & 0xFF)]
                + payload
        }
    }

    /// A request's header block in HPACK without Huffman coding or indexing: `method` (POST or GET),
    /// http, `path`, `contentType`, then `extra` as literal names and values.
    static func requestHeaders(
        method: String = "POST", path: String, contentType: String = "application/grpc", extra: [(String, String)] = []
    ) -> [UInt8] {
        func literal(_ text: String) -> [UInt8] { [UInt8(text.utf8.count)] + Array(text.utf8) }
        var block: [UInt8] = [method == "GET" ? 0x82 : 0x83, 0x86]  // :method, :scheme http (static table)
        block += [0x04] + literal(path)  // :path, name from the static table
        block += [0x0F, 0x10] + literal(contentType)  // content-type (static index 31)
        for (name, value) in extra { block += [0x00] + literal(name) + literal(value) }
        return block
    }

    /// A raw HTTP/2 peer: sends the preface and `frames`, then reads (answering SETTINGS and PINGs)
    /// until the server closes, `done` holds for the frames so far, or 15 s pass.
    static func exchange(port: Int, _ frames: [[UInt8]], until done: @escaping @Sendable ([Frame]) -> Bool) async throws -> [Frame] {
        let connection = try RawConnection(port: port)
        return try await RawConnection.run { () -> [Frame] in
            connection.send(PluginConnectionTests.http2Preface)
            for frame in frames { connection.send(frame) }
            var pending: [UInt8] = []
            var seen: [Frame] = []
            let deadline = ContinuousClock.now + .seconds(15)
            while ContinuousClock.now < deadline, !done(seen) {
                switch connection.receive(timeout: .milliseconds(100)) {
                case .closed: return seen
                case .timedOut: continue
                case .bytes(let bytes): pending += bytes
                }
                while pending.count >= 9 {
                    let length = Int(pending[0]) << 16 | Int(pending[1]) << 8 | Int(pending[2])
                    guard pending.count >= 9 + length else { break }
                    let stream = UInt32(pending[5] & 0x7F) << 24 | UInt32(pending[6]) << 16 | UInt32(pending[7]) << 8 | UInt32(pending[8])
                    let frame = Frame(type: pending[3], flags: pending[4], stream: stream, payload: Array(pending[9..<(9 + length)]))
                    pending.removeFirst(9 + length)
                    seen.append(frame)
                    if frame.type == 4, frame.flags & 1 == 0 { connection.send(Frame.bytes(type: 4, flags: 1, stream: 0, [])) }
                    if frame.type == 6, frame.flags & 1 == 0 { connection.send(Frame.bytes(type: 6, flags: 1, stream: 0, frame.payload)) }
                }
            }
            return seen
        }
    }

    /// The header blocks the server sent, decoded in order (HPACK's table spans the connection), by stream.
    static func headers(in frames: [Frame]) throws -> [UInt32: [HPACKHeaders]] {
        var decoder = HPACKDecoder(allocator: ByteBufferAllocator())
        var decoded: [UInt32: [HPACKHeaders]] = [:]
        for frame in frames where frame.type == 1 {
            var block = ByteBuffer(bytes: frame.payload)
            decoded[frame.stream, default: []].append(try decoder.decodeHeaders(from: &block))
        }
        return decoded
    }

    @Test("a stream error on one call ends the connection gracefully: the call in flight beside it is answered")
    func streamErrorSparesOtherCalls() async throws {
        try await Self.withPort(slowFor: .milliseconds(700)) { (_: Client, _: ServiceGroup, port: Int) async throws in
            let frames = try await Self.exchange(
                port: port,
                [
                    // Stream 1: a whole call of the slow method (an empty message), answered after 700 ms.
                    Frame.bytes(type: 1, flags: 0x4, stream: 1, Self.requestHeaders(path: "/test.Port/Slow")),
                    Frame.bytes(type: 0, flags: 0x1, stream: 1, [0, 0, 0, 0, 0]),
                    // Stream 3: a header name in upper case, which HTTP/2 forbids: a stream error.
                    Frame.bytes(type: 1, flags: 0x5, stream: 3, Self.requestHeaders(path: "/test.Port/Echo", extra: [("X-Bad", "1")])),
                ],
                until: { _ in false })
            #expect(frames.contains { $0.type == 3 && $0.stream == 3 }, "stream 3 was not reset: no stream error happened")
            #expect(frames.contains { $0.type == 7 }, "no GOAWAY after the stream error")
            #expect(frames.contains { $0.type == 0 && $0.stream == 1 }, "the call in flight got no message")
            #expect(frames.contains { $0.type == 1 && $0.stream == 1 && $0.endsStream }, "the call in flight got no trailers")
            #expect(!frames.contains { $0.type == 3 && $0.stream == 1 }, "the call in flight was reset")
        }
    }

    @Test("requests that are not gRPC get an HTTP status; a request that never ends gets DEADLINE_EXCEEDED at the limit")
    func nonGRPCAndUnfinishedRequests() async throws {
        try await Self.withPort(idleTimeout: .seconds(1)) { (_: Client, _: ServiceGroup, port: Int) async throws in
            let started = ContinuousClock.now
            let frames = try await Self.exchange(
                port: port,
                [
                    Frame.bytes(type: 1, flags: 0x5, stream: 1, Self.requestHeaders(method: "GET", path: "/test.Port/Echo")),
                    Frame.bytes(type: 1, flags: 0x5, stream: 3, Self.requestHeaders(path: "/test.Port/Echo", contentType: "text/plain")),
                    // Headers, then nothing: the request is never complete.
                    Frame.bytes(type: 1, flags: 0x4, stream: 5, Self.requestHeaders(path: "/test.Port/Echo")),
                ],
                until: { frames in frames.contains { $0.stream == 5 && $0.endsStream } })
            let took = ContinuousClock.now - started
            let headers = try Self.headers(in: frames)
            #expect(headers[1]?.first?.first(name: ":status") == "405")
            #expect(headers[3]?.first?.first(name: ":status") == "415")
            let answer = try #require(headers[5]?.first, "the unfinished request got no answer")
            #expect(answer.first(name: ":status") == "200")
            #expect(answer.first(name: "grpc-status") == "4")
            #expect(took >= .milliseconds(900), "answered after \(took), before the 1 s limit")
        }
    }

    @Test("calls still running when the drain limit passes are cut off, and shutdown ends")
    func drainLimit() async throws {
        let calls = SlowCalls()
        let started = ContinuousClock.now
        try await Self.withPort(drainLimit: .milliseconds(500), slowFor: .seconds(30), calls: calls) {
            (client: Client, group: ServiceGroup, _: Int) async throws in
            async let cut: Void = { _ = try? await Self.call(client, Self.slow, Pbx_Unused(), returning: Pbx_Unused.self) }()
            for _ in 0..<500 where calls.started.withLock({ $0 }) < 1 { try await Task.sleep(for: .milliseconds(20)) }
            await group.triggerGracefulShutdown()
            await cut
        }
        #expect(ContinuousClock.now - started < .seconds(10), "shutdown waited for a 30 s call")
        // The call's task learns of the cut when its connection's close reaches it, a moment after the
        // client saw the end: on a busy machine that can be after shutdown returned.
        let deadline = ContinuousClock.now + .seconds(3)
        while calls.cancelled.withLock({ $0 }) == 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(calls.cancelled.withLock { $0 } == 1)
    }
}

@Suite("gRPC's HTTP/2 mapping: timeouts, framing, status")
struct GRPCWireTests {
    @Test("grpc-timeout in every unit; malformed values are not timeouts")
    func timeouts() {
        #expect(GRPCWire.timeout("2H") == .seconds(7200))
        #expect(GRPCWire.timeout("3M") == .seconds(180))
        #expect(GRPCWire.timeout("4S") == .seconds(4))
        #expect(GRPCWire.timeout("250m") == .milliseconds(250))
        // Tinode's plugin timeout is configured in microseconds and sent as Go's gRPC encodes it.
        #expect(GRPCWire.timeout("20000u") == .microseconds(20000))
        #expect(GRPCWire.timeout("99999999n") == .nanoseconds(99_999_999))
        for malformed in ["", "S", "5", "5s", "123456789S", "-5S", "5 S", "1.5S", "５S"] {
            #expect(GRPCWire.timeout(malformed) == nil, "\(malformed) was read as a timeout")
        }
    }

    @Test("content types: application/grpc and +proto, with parameters; nothing else")
    func contentTypes() {
        for accepted in ["application/grpc", "application/grpc+proto", "Application/GRPC; charset=utf-8"] {
            #expect(GRPCWire.isGRPCContentType(accepted), "\(accepted)")
        }
        for refused in [nil, "", "application/json", "application/grpc+json", "application/grpc-web", "text/plain"] {
            #expect(!GRPCWire.isGRPCContentType(refused), "\(refused ?? "nil")")
        }
    }

    @Test("a request body must be exactly one uncompressed length-prefixed message")
    func requestFraming() throws {
        func read(_ bytes: [UInt8]) -> Result<[UInt8], RPCError> {
            var buffer = ByteBuffer(bytes: bytes)
            return GRPCWire.requestMessage(in: &buffer)
        }
        #expect(try read([0, 0, 0, 0, 2, 7, 8]).get() == [7, 8])
        #expect(try read([0, 0, 0, 0, 0]).get() == [])
        for (bytes, code) in [
            ([], RPCError.Code.internalError), ([0, 0, 0], .internalError), ([0, 0, 0, 0, 3, 7, 8], .internalError),
            ([0, 0, 0, 0, 1, 7, 8], .internalError), ([1, 0, 0, 0, 1, 7], .unimplemented),
        ] as [([UInt8], RPCError.Code)] {
            guard case .failure(let error) = read(bytes) else {
                Issue.record("\(bytes) was accepted")
                continue
            }
            #expect(error.code == code, "\(bytes)")
        }
    }

    @Test("grpc-message is percent-encoded; the status is in a single trailers-only HEADERS")
    func statusHeaders() {
        #expect(GRPCWire.percentEncoded("no such method: /a/b") == "no such method: /a/b")
        #expect(GRPCWire.percentEncoded("100% sûr\n") == "100%25 s%C3%BBr%0A")
        let headers = GRPCWire.trailersOnly(for: RPCError(code: .permissionDenied, message: "caller refused"))
        #expect(headers.first(name: ":status") == "200")
        #expect(headers.first(name: "content-type") == "application/grpc")
        #expect(headers.first(name: "grpc-status") == "7")
        #expect(headers.first(name: "grpc-message") == "caller refused")
    }
}
