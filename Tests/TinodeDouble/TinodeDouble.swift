import GRPCCore
import GRPCNIOTransportHTTP2
import NIOPosix
import Synchronization
import TinodeProto

/// A stand-in for a Tinode v0.25.3 server's client API (`pbx.Node/MessageLoop`) on a real gRPC
/// socket (HTTP/2, plaintext, 127.0.0.1), for tests and benchmarks of code that talks to Tinode.
///
/// It behaves as tinode-protocol.md sections 3, 4 and 8 describe and as the transcripts in
/// shared/fixtures/tinode-grpc show, the awkward parts included (two ctrls for one request, acks
/// after or before echoes, 205 then a silent half-dead stream). With `Options.restAuth`, logins with
/// scheme `rest` go to a real REST-auth server, as section 1 and shared/fixtures/rest-auth show.
/// Everything is kept in memory.
/// Seeding, inspection and fault knobs let tests set up and break things on purpose.
///
/// On the wire it behaves like Tinode's grpc-go server by default (section 9: a PING per client
/// message, grpc-go's keepalive policing), through a frame filter on each connection; see
/// `Options.wire` and `wireCounters`.
public final class TinodeDouble: Sendable {
    let world: World
    let wireTally = WireTally()
    private let lifecycle = Mutex(Lifecycle())

    private struct Lifecycle {
        var port = 0
        var running: Running?
    }

    private struct Running: Sendable {
        let server: GRPCServer<HTTP2ServerTransport.Posix>
        /// The task that runs `serve()`. A test double has no service group to run in, so it keeps
        /// the task itself and always awaits it in `stop()`.
        let serving: Task<Void, Never>
    }

    /// The doubles' own event loops (never shut down, like NIO's singleton); their REST-auth
    /// clients use them too.
    static let eventLoops = MultiThreadedEventLoopGroup(numberOfThreads: 2)

    private init(options: Options) {
        world = World(options: options)
    }

    /// Starts serving on 127.0.0.1; port 0 picks a free port (read it from `port`).
    public static func start(port: Int = 0, options: Options = .init()) async throws -> TinodeDouble {
        if let restAuth = options.restAuth, restAuth.url(for: "auth") == nil {
            throw TinodeDoubleError.invalidRESTAuthServerURL(restAuth.serverURL)
        }
        let double = TinodeDouble(options: options)
        try await double.serve(on: port)
        return double
    }

    /// The port the double serves (or last served) on.
    public var port: Int {
        lifecycle.withLock { $0.port }
    }

    /// Stops serving: every open stream ends with a gRPC error (UNAVAILABLE), like the process
    /// dying, and the port is closed. State is kept. The REST-auth client is shut down.
    public func stop() async {
        guard
            let running = lifecycle.withLock({ lifecycle -> Running? in
                defer { lifecycle.running = nil }
                return lifecycle.running
            })
        else { return }
        world.stopAllSessions()
        running.server.beginGracefulShutdown()
        // Every handler ends as soon as it sees the stop signal; the timeout only guards against a bug.
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await running.serving.value }
            group.addTask {
                try? await Task.sleep(for: .seconds(5))
                running.serving.cancel()
            }
            await group.next()
            group.cancelAll()
        }
        await running.serving.value
        await world.restAuth?.shutdown()
    }

    /// Serves again on the same port with the same state (users, topics, messages), like a restart.
    /// Tokens issued before stay valid.
    public func restart() async throws {
        guard lifecycle.withLock({ $0.running == nil }) else { return }
        try await serve(on: port)
    }

    private func serve(on port: Int) async throws {
        let options = world.options
        let wireTally = wireTally
        let transport = HTTP2ServerTransport.Posix(
            address: .ipv4(host: "127.0.0.1", port: port),
            transportSecurity: .plaintext,
            config: .defaults { config in
                // Benchmarks open 10,000 streams on one connection.
                config.http2.maxConcurrentStreams = 100_000
                // max_message_size is enforced by NodeService's deserializer, which ends the call with
                // RESOURCE_EXHAUSTED like Tinode; the transport would reset the stream instead.
                config.rpc.maxRequestPayloadSize = max(options.maxMessageSize * 4, 16 << 20)
                options.wire.configure(&config, tally: wireTally)
            },
            // Not the shared singleton: a busy double must not delay the timers of the code under test
            // that runs in the same process.
            eventLoopGroup: Self.eventLoops
        )
        let server = GRPCServer(transport: transport, services: [NodeService(world: world)])
        world.acceptSessions()
        let serving = Task {
            // A failure to listen surfaces through `listeningAddress` below.
            do { try await server.serve() } catch {}
        }
        do {
            let address = try await transport.listeningAddress
            guard let bound = address.ipv4 else { throw RPCError(code: .internalError, message: "not bound to IPv4: \(address)") }
            lifecycle.withLock { $0 = Lifecycle(port: bound.port, running: Running(server: server, serving: serving)) }
        } catch {
            server.beginGracefulShutdown()
            serving.cancel()
            await serving.value
            throw error
        }
    }
}
