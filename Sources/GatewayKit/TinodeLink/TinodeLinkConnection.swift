import GRPCOverHTTP2
import Logging
import NIOCore
import NIOHTTP2
import NIOPosix
import Synchronization

/// One HTTP/2 connection to Tinode's gRPC port, carrying many users' `MessageLoop` streams.
///
/// Its pipeline: NIO's HTTP/2 handler (client mode, server push off, NIO's control-frame limit
/// raised to a backstop), a ``ControlFramePolicer`` that lets Tinode ping once per message we send
/// (grpc-go's flow-control estimation does exactly that, tinode-protocol.md section 9), and a
/// ``TinodeConnectionWatcher`` that learns why the connection ends. Each stream's pipeline starts with
/// ``OutboundDataCredit``, which earns that PING.
///
/// When the connection ends it is counted by reason and logged once, here, rather than once for
/// each user whose stream it carried.
final class TinodeLinkConnection: Sendable {
    typealias StreamChannel = NIOAsyncChannel<HTTP2Frame.FramePayload, HTTP2Frame.FramePayload>

    /// What the link asks of each connection.
    struct Settings: Sendable {
        var host: String
        var port: Int
        var connectTimeout: Duration = .seconds(5)
        var keepalive: Duration?
        var keepaliveTimeout: Duration = .seconds(20)
        /// The control-frame rule for Tinode's PINGs and SETTINGS.
        var controlFrames = ControlFrameBudget.Limits()
        /// Per-stream flow-control window we offer Tinode: big enough that a page of history (100
        /// messages) arrives without waiting for WINDOW_UPDATEs.
        var streamWindow = 1 << 20
    }

    let id: Int
    private let channel: any Channel
    private let multiplexer: NIOHTTP2Handler.AsyncStreamMultiplexer<Void>
    private let policer: NIOLoopBound<ControlFramePolicer>
    private let state = Mutex(State())
    private let metrics: TinodeLinkMetrics
    private let logger: Logger

    private struct State {
        var draining = false
        var closeReason: TinodeConnectionCloseReason?
        var openStreams = 0
        var streamsOpened = 0
    }

    private init(
        id: Int, channel: any Channel, multiplexer: NIOHTTP2Handler.AsyncStreamMultiplexer<Void>,
        policer: NIOLoopBound<ControlFramePolicer>, metrics: TinodeLinkMetrics, logger: Logger
    ) {
        self.id = id
        self.channel = channel
        self.multiplexer = multiplexer
        self.policer = policer
        self.metrics = metrics
        self.logger = logger
    }

    /// Connects, with the connect timeout; throws ``TinodeLinkError/connectFailed(_:)``.
    static func connect(
        id: Int, settings: Settings, group: any EventLoopGroup, metrics: TinodeLinkMetrics, logger: Logger
    ) async throws -> TinodeLinkConnection {
        let logger = {
            var logger = logger
            logger[metadataKey: "tinode_connection"] = "\(id)"
            return logger
        }()
        do {
            let connection = try await ClientBootstrap(group: group)
                .connectTimeout(TimeAmount(settings.connectTimeout))
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connect(host: settings.host, port: settings.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try Self.configure(channel, id: id, settings: settings, metrics: metrics, logger: logger)
                    }
                }
            metrics.opened()
            connection.channel.closeFuture.whenComplete { _ in connection.closed() }
            logger.debug("connected to Tinode", metadata: ["address": "\(settings.host):\(settings.port)"])
            return connection
        } catch {
            metrics.connectFailures.increment()
            throw TinodeLinkError.connectFailed("\(settings.host):\(settings.port): \(error)")
        }
    }

    private static func configure(
        _ channel: any Channel, id: Int, settings: Settings, metrics: TinodeLinkMetrics, logger: Logger
    ) throws -> TinodeLinkConnection {
        var configuration = NIOHTTP2Handler.Configuration()
        configuration.connection.initialSettings = [
            HTTP2Setting(parameter: .enablePush, value: 0),
            HTTP2Setting(parameter: .initialWindowSize, value: settings.streamWindow),
            HTTP2Setting(parameter: .maxFrameSize, value: 1 << 14),
            HTTP2Setting(parameter: .maxHeaderListSize, value: 16_384),
        ]
        configuration.connection.targetWindowSize = settings.streamWindow * 4
        configuration.stream.targetWindowSize = settings.streamWindow
        HTTP2FloodLimits.applyBackstop(to: &configuration.connection)

        let events = ConnectionEvents()
        let multiplexer = try channel.pipeline.syncOperations.configureAsyncHTTP2Pipeline(
            mode: .client, streamDelegate: events, configuration: configuration
        ) { pushed in
            // Push is off; a stream Tinode opens anyway is refused.
            pushed.close()
        }
        let policer = ControlFramePolicer(limits: settings.controlFrames) { kind in
            events.connection?.noteCloseReason(.controlFrameFlood(kind: kind.rawValue))
        }
        try channel.pipeline.syncOperations.addHandler(policer)
        let connection = TinodeLinkConnection(
            id: id, channel: channel, multiplexer: multiplexer, policer: NIOLoopBound(policer, eventLoop: channel.eventLoop),
            metrics: metrics, logger: logger)
        events.connection = connection
        let keepalive = settings.keepalive.map {
            TinodeConnectionWatcher.Keepalive(interval: TimeAmount($0), timeout: TimeAmount(settings.keepaliveTimeout))
        }
        try channel.pipeline.syncOperations.addHandler(TinodeConnectionWatcher(connection: connection, keepalive: keepalive))
        return connection
    }

    /// Whether new streams may go on this connection: open, and Tinode has not said GOAWAY.
    var acceptsStreams: Bool {
        channel.isActive && state.withLock { !$0.draining && $0.closeReason == nil }
    }

    /// Streams open right now.
    var openStreams: Int { state.withLock { $0.openStreams } }

    /// Why the connection ended, once it has (or is ending).
    var closeReason: TinodeConnectionCloseReason? { state.withLock { $0.closeReason } }

    /// Opens a stream whose first handler earns Tinode's PING for each DATA frame it sends.
    func openStream() async throws -> StreamChannel {
        let policer = self.policer
        do {
            return try await multiplexer.openStream { stream in
                stream.eventLoop.makeCompletedFuture {
                    try stream.pipeline.syncOperations.addHandler(OutboundDataCredit(policer: policer))
                    return try StreamChannel(wrappingChannelSynchronously: stream)
                }
            }
        } catch {
            if let reason = closeReason { throw TinodeLinkError.connectionLost(reason) }
            throw TinodeLinkError.connectFailed("cannot open a stream: \(error)")
        }
    }

    /// Ends the connection (at shutdown). Streams still open end with it.
    func close() {
        noteCloseReason(.closedLocally)
        channel.close(promise: nil)
    }

    /// Tinode will take no new streams here; those open go on until they end.
    func peerSentGoAway(code: HTTP2ErrorCode, debug: String) {
        state.withLock { $0.draining = true }
        noteCloseReason(.peerGoAway(code: code, debug: debug))
    }

    /// Keeps the first reason heard: what came before the close explains it best.
    func noteCloseReason(_ reason: TinodeConnectionCloseReason) {
        state.withLock { state in
            if state.closeReason == nil { state.closeReason = reason }
        }
    }

    func keepalivePingSent() {
        metrics.keepalivePingSent()
    }

    fileprivate func streamOpened() {
        state.withLock {
            $0.openStreams += 1
            $0.streamsOpened += 1
        }
    }

    fileprivate func streamClosed() {
        state.withLock { $0.openStreams -= 1 }
    }

    /// Counted and logged once, whatever number of streams it carried.
    private func closed() {
        let (reason, streams, opened) = state.withLock { state in
            if state.closeReason == nil { state.closeReason = .peerClosed }
            return (state.closeReason ?? .peerClosed, state.openStreams, state.streamsOpened)
        }
        metrics.closed(reason: reason)
        var metadata: Logger.Metadata = [
            "reason": "\(reason.label)", "detail": "\(reason)", "open_streams": "\(streams)", "streams_carried": "\(opened)",
        ]
        if let code = reason.http2ErrorCode { metadata["http2_error_code"] = "\(code)" }
        switch reason {
        case .closedLocally:
            logger.debug("Tinode connection closed", metadata: metadata)
        case .peerGoAway(.noError, _) where streams == 0:
            logger.info("Tinode connection closed", metadata: metadata)
        default:
            logger.warning("Tinode connection lost", metadata: metadata)
        }
    }

    /// Tells the connection about its streams and floods. Made before the connection (NIO needs the
    /// delegate first); the connection is set right after, on the event loop, before any stream or
    /// frame can arrive, and only read there.
    private final class ConnectionEvents: NIOHTTP2StreamDelegate, @unchecked Sendable {
        weak var connection: TinodeLinkConnection?

        func streamCreated(_ id: HTTP2StreamID, channel: any Channel) {
            connection?.streamOpened()
        }

        func streamClosed(_ id: HTTP2StreamID, channel: any Channel) {
            connection?.streamClosed()
        }
    }
}
