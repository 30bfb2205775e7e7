import GRPCCore
import GRPCOverHTTP2
import Logging
import NIOCore
import NIOHTTP2
import NIOPosix
import ServiceLifecycle
import SidecarCore
import Synchronization

/// The gRPC server Tinode dials (plaintext HTTP/2, `service_addr: "tcp://host:port"`), run as a
/// `Service` in AuthPlugin's service group.
///
/// Written directly on NIO's HTTP/2 rather than grpc-swift's server: Tinode calls FireHose before
/// every client message, and grpc-swift's per-call machinery (a task, async sequences and several
/// thread hops per call) held its p99 at 32 calls in flight near 7 ms on two cores, where this
/// server answers at once on the event loop (bench/authplugin-plugin.sh). It serves what Tinode
/// needs and no more: unary calls with protobuf messages, uncompressed (``UnaryCallHandler``).
///
/// * Callers outside `AUTHPLUGIN_ALLOWED_NETWORKS` get `PERMISSION_DENIED` for their first call,
///   then their connection is closed; they may hold a sixteenth of the connections at most.
/// * Idle connections are closed (``PluginConnectionGuard``); a call lasts at most its
///   `grpc-timeout`, and never longer than the idle timeout.
/// * ``PluginPortLimits``: connections (one more is closed at once), calls at a time per connection
///   (SETTINGS_MAX_CONCURRENT_STREAMS; streams beyond it are reset with `REFUSED_STREAM`), the
///   size of a request (`RESOURCE_EXHAUSTED` beyond). NIO's rules on resets (rapid reset), stream
///   errors and header lists end a connection that breaks them.
/// * Warnings about peers are rate-limited (``RateLimitedWarnings``); metrics count every event.
/// * Control frames (PING, SETTINGS, PRIORITY) are budgeted by `ControlFramePolicer`: Tinode's
///   grpc-go client pings about once per answer it receives, so each DATA frame we send earns one,
///   beside an allowance of 200 per 30 s for frames nothing earned; beyond both the connection is
///   cut (GOAWAY `ENHANCE_YOUR_CALM`, counted in `authplugin_plugin_connections_cut_total`).
/// * Graceful shutdown: stop accepting, GOAWAY to every connection, let the calls in flight
///   finish (at most `drainLimit`), then close what is left.
public final class PluginGRPCServer: Service, Sendable {
    private let address: NetworkAddress
    private let routes: [String: UnaryRoute]
    private let allowedNetworks: NetworkAllowList
    private let idleTimeout: Duration
    private let drainLimit: Duration
    private let limits: PluginPortLimits
    private let metrics: PluginMetrics
    private let logger: Logger
    private let warnings: RateLimitedWarnings
    private let port = BoundPort()
    private let connections: PluginConnections

    /// - Parameters:
    ///   - routes: the plugin's RPCs, and in benchmarks a baseline RPC beside them.
    ///   - allowedNetworks: callers outside these blocks get `PERMISSION_DENIED`.
    ///   - idleTimeout: a connection with no call in progress this long is closed. The allow-list acts
    ///     on calls, so without it a connection that never calls (from anywhere) would stay open.
    ///   - drainLimit: how long graceful shutdown waits for the calls in flight.
    ///   - limits: connections, calls at a time and request size.
    public init(
        address: NetworkAddress, routes: [UnaryRoute], allowedNetworks: NetworkAllowList,
        idleTimeout: Duration = .seconds(300), drainLimit: Duration = .seconds(10), limits: PluginPortLimits = PluginPortLimits(),
        metrics: PluginMetrics, logger: Logger
    ) {
        self.address = address
        self.routes = Dictionary(routes.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
        self.allowedNetworks = allowedNetworks
        self.idleTimeout = idleTimeout
        self.drainLimit = drainLimit
        self.limits = limits
        self.metrics = metrics
        self.logger = logger
        warnings = RateLimitedWarnings(interval: limits.warningInterval, logger: logger)
        connections = PluginConnections(maximum: limits.maximumConnections, maximumOutsiders: limits.maximumOutsiderConnections)
    }

    /// The port actually bound (useful with port 0); waits until the server listens, and throws
    /// if it could not bind.
    public var listeningPort: Int {
        get async throws { try await port.value }
    }

    public func run() async throws {
        let listener: any Channel
        do {
            listener = try await bootstrap().bind(host: address.host, port: address.port).get()
        } catch {
            port.resolve(.failure(error))
            throw error
        }
        port.resolve(.success(listener.localAddress?.port ?? address.port))
        logger.info(
            "pbx.Plugin gRPC server listening",
            metadata: ["address": "\(NetworkAddress(host: address.host, port: listener.localAddress?.port ?? address.port))"])
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                try? await listener.closeFuture.get()
            } onCancel: {
                listener.close(promise: nil)
            }
        } onGracefulShutdown: {
            listener.close(promise: nil)
        }
        await drainConnections()
    }

    private func bootstrap() -> ServerBootstrap {
        ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture { try self.configure(channel) }
            }
    }

    /// The pipeline of one accepted connection: HTTP/2, the control-frame policer, the connection
    /// guard, and on every stream the peer opens the policer's credit for our DATA frames and a
    /// ``UnaryCallHandler`` (or, beyond the limit on calls at once, a ``RefusedStreamHandler``).
    /// A connection beyond the cap is closed before any of it is built.
    private func configure(_ channel: any Channel) throws {
        let host = channel.remoteAddress?.ipAddress
        let peer = channel.remoteAddress?.description ?? "unknown"
        let allowed = host.map(allowedNetworks.allows) ?? false
        let settings = UnaryCallSettings(
            routes: routes, callerAllowed: allowed, peer: peer, maximumCallDuration: idleTimeout,
            maximumMessageBytes: limits.maximumMessageBytes, metrics: metrics, warnings: warnings, logger: logger)
        let connectionGuard = PluginConnectionGuard(idleTimeout: idleTimeout, peerAllowed: allowed) { [metrics, warnings] reason in
            metrics.cut(reason)
            // A refused caller's warning is the refused call's own (``UnaryCallHandler``).
            guard let kind = RateLimitedWarnings.Kind(reason) else { return }
            warnings.warn(kind, "pbx.Plugin connection cut off: \(reason.explanation)", metadata: ["peer": "\(peer)"])
        }
        let guardHandler = NIOLoopBound(connectionGuard, eventLoop: channel.eventLoop)
        if case .failure(let refusal) = connections.admit(.init(channel: channel, guardHandler: guardHandler, outsider: !allowed)) {
            metrics.connectionLimitCuts.increment()
            warnings.warn(
                .connectionLimit, "pbx.Plugin connection closed at once: too many connections",
                metadata: [
                    "peer": "\(peer)", "limit": "\(refusal == .full ? limits.maximumConnections : limits.maximumOutsiderConnections)",
                    "outside_allowed_networks": "\(!allowed)",
                ])
            channel.close(promise: nil)
            return
        }
        let policer = ControlFramePolicer(
            limits: ControlFrameBudget.Limits(), lastPeerStreamID: { [connectionGuard] in connectionGuard.lastStreamID }
        ) { [metrics, warnings] kind in
            metrics.controlFrameFloods.increment()
            warnings.warn(
                .controlFrameFlood, "pbx.Plugin connection cut off: more HTTP/2 control frames than its calls allow",
                metadata: ["peer": "\(peer)", "frame": "\(kind.rawValue)"])
        }
        let credit = NIOLoopBound(policer, eventLoop: channel.eventLoop)
        let maximumStreams = limits.maximumConcurrentStreams
        _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
            mode: .server, connectionConfiguration: limits.connectionConfiguration, streamConfiguration: limits.streamConfiguration,
            streamDelegate: PluginConnectionGuard.StreamCounter(guardHandler: guardHandler)
        ) { [metrics] stream in
            stream.eventLoop.makeCompletedFuture {
                // The guard counts this stream only once its initializer has run.
                guard guardHandler.value.openStreams < maximumStreams else {
                    metrics.refusedStreams.increment()
                    try stream.pipeline.syncOperations.addHandler(RefusedStreamHandler())
                    return
                }
                // First, nearest the connection: it sees every DATA frame the call writes.
                try stream.pipeline.syncOperations.addHandler(OutboundDataCredit(policer: credit))
                try stream.pipeline.syncOperations.addHandler(UnaryCallHandler(settings: settings))
            }
        }
        // The policer before the guard: the guard's GOAWAY PING passes through it and earns its ACK.
        try channel.pipeline.syncOperations.addHandler(policer)
        try channel.pipeline.syncOperations.addHandler(connectionGuard)
    }

    /// After the listener closed: every connection gets its GOAWAY and closes when its calls have
    /// ended; what is still open after `drainLimit` is closed.
    private func drainConnections() async {
        let open = connections.all
        guard !open.isEmpty else { return }
        for connection in open {
            connection.channel.eventLoop.execute { connection.guardHandler.value.drain() }
        }
        // Closed connections leave the registry; EventLoopFuture.get() would not heed a deadline.
        let deadline = ContinuousClock.now + drainLimit
        while ContinuousClock.now < deadline, !connections.isEmpty {
            try? await Task.sleep(for: .milliseconds(20))
        }
        let left = connections.all
        if !left.isEmpty {
            logger.warning(
                "pbx.Plugin calls still in flight at the end of the drain were cut off",
                metadata: ["drain_limit": "\(drainLimit)", "connections": "\(left.count)"])
            for connection in left { connection.channel.close(promise: nil) }
        }
    }

    /// Open connections now (for tests).
    var openConnections: Int { connections.count }
}

extension RateLimitedWarnings.Kind {
    /// The warning of a connection cut off for `reason`; nil when its warning is logged elsewhere.
    init?(_ reason: PluginConnectionGuard.CutReason) {
        switch reason {
        case .refusedCaller: return nil
        case .resetFlood: self = .resetFlood
        case .protocolAbuse: self = .protocolAbuse
        }
    }
}

extension PluginConnectionGuard.CutReason {
    /// The end of the warning logged when a connection is cut off for this reason.
    var explanation: String {
        switch self {
        case .refusedCaller: "its peer is not in AUTHPLUGIN_ALLOWED_NETWORKS"
        case .resetFlood: "too many RST_STREAM frames (rapid reset)"
        case .protocolAbuse: "too many HTTP/2 stream errors, empty or CONTINUATION frames"
        }
    }
}

/// The port the server bound, for callers that wait for it (tests, the benchmark).
private final class BoundPort: Sendable {
    private let state = Mutex<(result: Result<Int, any Error>?, waiters: [CheckedContinuation<Int, any Error>])>((nil, []))

    var value: Int {
        get async throws {
            try await withCheckedThrowingContinuation { continuation in
                let known = state.withLock { state -> Result<Int, any Error>? in
                    if state.result == nil { state.waiters.append(continuation) }
                    return state.result
                }
                if let known { continuation.resume(with: known) }
            }
        }
    }

    func resolve(_ result: Result<Int, any Error>) {
        let waiters = state.withLock { state in
            state.result = result
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(with: result) }
    }
}
