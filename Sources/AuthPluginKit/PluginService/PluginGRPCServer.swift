import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import NIOPosix
import ServiceLifecycle
import SidecarCore

/// The gRPC server Tinode dials (plaintext HTTP/2, `service_addr: "tcp://host:port"`), run as a
/// `Service` in AuthPlugin's service group: it stops accepting calls at graceful shutdown and
/// lets the calls in flight finish.
public final class PluginGRPCServer: Service, Sendable {
    private let server: GRPCServer<HTTP2ServerTransport.Posix>
    private let transport: HTTP2ServerTransport.Posix
    private let address: NetworkAddress
    private let logger: Logger

    /// The transport's own event loop, apart from NIO's shared ones. Tinode keeps one HTTP/2
    /// connection to the plugin, and AuthPlugin runs its tasks on the shared loops (`ProgramRunner`);
    /// a connection on a shared loop would keep every call's task on that one loop, one core. From a
    /// loop of its own, the calls' tasks are spread over all the shared loops (about twice the calls
    /// per second on two cores, bench/authplugin-plugin.sh).
    private static let transportLoop = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    /// - Parameters:
    ///   - services: the plugin service, and in benchmarks a baseline service beside it.
    ///   - allowedNetworks: callers outside these blocks get `PERMISSION_DENIED`.
    ///   - idleTimeout: a connection with no call in progress this long is closed. The allow-list acts
    ///     on calls, so without it a connection that never calls (from anywhere) would stay open.
    public init(
        address: NetworkAddress, services: [any RegistrableRPCService], allowedNetworks: NetworkAllowList,
        idleTimeout: Duration = .seconds(300), metrics: PluginMetrics, logger: Logger
    ) {
        self.address = address
        self.logger = logger
        // gRPC's idle limit sends GOAWAY and a PING once no stream has been open for `idleTimeout`,
        // and closes when the PING is answered: Tinode's gRPC client takes that as a clean end and
        // dials again for its next call. Keepalive PINGs after half that time without a byte read
        // keep a live peer talking, so a connection from which nothing at all was read for
        // `idleTimeout` is dead or silent, and is closed outright (`SilentConnectionCloser`).
        let config = HTTP2ServerTransport.Posix.Config.defaults { config in
            config.connection.maxIdleTime = idleTimeout
            config.connection.keepalive.time = idleTimeout / 2
            config.connection.keepalive.timeout = min(.seconds(20), idleTimeout / 4)
            config.channelDebuggingCallbacks.onAcceptTCPConnection = { channel in
                SilentConnectionCloser.install(on: channel, timeout: idleTimeout)
            }
        }
        if address.host.contains(":") {
            transport = HTTP2ServerTransport.Posix(
                address: .ipv6(host: address.host, port: address.port), transportSecurity: .plaintext, config: config,
                eventLoopGroup: Self.transportLoop)
        } else {
            transport = HTTP2ServerTransport.Posix(
                address: .ipv4(host: address.host, port: address.port), transportSecurity: .plaintext, config: config,
                eventLoopGroup: Self.transportLoop)
        }
        server = GRPCServer(
            transport: transport, services: services,
            interceptors: [AllowedNetworksInterceptor(allowList: allowedNetworks, metrics: metrics, logger: logger)])
    }

    /// The address actually bound (useful with port 0); waits until the server listens.
    public var listeningPort: Int {
        get async throws {
            let address = try await transport.listeningAddress
            if let ipv4 = address.ipv4 { return ipv4.port }
            if let ipv6 = address.ipv6 { return ipv6.port }
            throw RPCError(code: .internalError, message: "plugin server bound to an unexpected address: \(address)")
        }
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await self.server.serve() }
                // A failure to bind surfaces from `serve()`; only a bound server is announced.
                if let port = try? await listeningPort {
                    logger.info(
                        "pbx.Plugin gRPC server listening",
                        metadata: ["address": "\(NetworkAddress(host: address.host, port: port))"])
                }
                try await group.waitForAll()
            }
        } onGracefulShutdown: {
            self.server.beginGracefulShutdown()
        }
    }
}

/// Refuses calls from outside `AUTHPLUGIN_ALLOWED_NETWORKS` (Tinode sends no credentials, so the
/// network is the only thing that says a caller is Tinode).
struct AllowedNetworksInterceptor: ServerInterceptor {
    let allowList: NetworkAllowList
    let metrics: PluginMetrics
    let logger: Logger

    func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>, context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        guard let host = ClientAddress.host(ofPeer: context.remotePeer), allowList.allows(host) else {
            metrics.refused.increment()
            logger.warning("plugin caller refused by AUTHPLUGIN_ALLOWED_NETWORKS", metadata: ["peer": "\(context.remotePeer)"])
            throw RPCError(code: .permissionDenied, message: "caller is not in AUTHPLUGIN_ALLOWED_NETWORKS")
        }
        return try await next(request, context)
    }
}
