import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import ServiceLifecycle
import Synchronization
import TinodeProto

/// Opens `pbx.Node/MessageLoop` streams over plaintext HTTP/2 (Tinode's gRPC port has no TLS of its
/// own in the deployments we target, and no API key: tinode-protocol.md 3.10).
///
/// Streams are spread over a few HTTP/2 connections; each stream runs as a child of `run()`.
public final class GRPCTinodeConnector: TinodeStreamOpening, Service {
    public struct Options: Sendable {
        public var host: String
        public var port: Int
        /// HTTP/2 connections to share the streams (one stream per active user).
        public var connections = 2
        /// gRPC keepalive pings. Off by default: Tinode without `grpc_keepalive_enabled` disconnects
        /// clients that ping more often than every 5 minutes (tinode-protocol.md 3.8).
        public var keepalive: Duration?
        /// Largest message accepted from Tinode.
        public var maxResponseBytes = 4 * 1024 * 1024

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
    }

    private let clients: [GRPCClient<HTTP2ClientTransport.Posix>]
    private let streams = BackgroundTasks()
    private let nextClient = Atomic<Int>(0)
    private let callOptions: CallOptions

    public init(options: Options) throws {
        var clients: [GRPCClient<HTTP2ClientTransport.Posix>] = []
        for _ in 0..<max(1, options.connections) {
            let transport = try HTTP2ClientTransport.Posix(
                target: .dns(host: options.host, port: options.port),
                transportSecurity: .plaintext,
                config: .defaults { config in
                    config.backoff = .init(initial: .milliseconds(100), max: .seconds(5), multiplier: 1.6, jitter: 0.2)
                    if let interval = options.keepalive {
                        config.connection.keepalive = .init(time: interval, timeout: .seconds(20), allowWithoutCalls: false)
                    }
                })
            clients.append(GRPCClient(transport: transport))
        }
        self.clients = clients
        var callOptions = CallOptions.defaults
        // Fail at once while Tinode is unreachable: the session reports `unavailable` and retries
        // with its own backoff instead of parking every request on a dead connection.
        callOptions.waitForReady = false
        callOptions.maxResponseMessageBytes = options.maxResponseBytes
        self.callOptions = callOptions
    }

    public func openStream(
        consume: @escaping @Sendable (TinodeInbound) async throws -> Void,
        onEnd: @escaping @Sendable ((any Error)?) async -> Void
    ) -> TinodeStream {
        let stream = TinodeStream()
        let index = nextClient.wrappingAdd(1, ordering: .relaxed).oldValue % clients.count
        let node = Pbx_Node.Client(wrapping: clients[index])
        let options = callOptions
        streams.spawn {
            let outcome = await withTaskGroup(of: StreamOutcome.self) { group in
                group.addTask {
                    do {
                        let request = StreamingClientRequest<Pbx_ClientMsg> { writer in
                            for await message in stream.outbound { try await writer.write(message) }
                        }
                        try await node.messageLoop(request: request, options: options) { response in
                            try await consume(response.messages)
                        }
                        return .ended(nil)
                    } catch {
                        return .ended(error)
                    }
                }
                group.addTask {
                    await stream.waitUntilCancelled()
                    return .cancelled
                }
                let first = await group.next() ?? .cancelled
                group.cancelAll()
                stream.cancel()  // releases the cancellation waiter when the call ended first
                return first
            }
            switch outcome {
            case .ended(let error): await onEnd(error)
            case .cancelled: await onEnd(CancellationError())
            }
        }
        return stream
    }

    private enum StreamOutcome: Sendable {
        case ended((any Error)?)
        case cancelled
    }

    /// Runs the HTTP/2 connections and the streams until graceful shutdown or cancellation.
    public func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            for client in clients {
                group.addTask { try await client.runConnections() }
            }
            group.addTask { await self.streams.run() }
            try? await gracefulShutdown()
            // The session pool, shut down before us, has closed its streams; end whatever is left.
            streams.finish()
            for client in clients { client.beginGracefulShutdown() }
        }
    }
}
