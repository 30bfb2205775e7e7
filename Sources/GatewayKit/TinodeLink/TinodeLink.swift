import GRPCOverHTTP2
import Logging
import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix
import ServiceLifecycle
import Synchronization
import TinodeProto

/// The Gateway's link to Tinode's gRPC port: `pbx.Node/MessageLoop` streams (one per user session)
/// over a few plaintext HTTP/2 connections, written directly on SwiftNIO's HTTP/2.
///
/// Why not grpc-swift's client: Tinode's server (grpc-go) sends a PING for every message it
/// receives, and grpc-swift's transport keeps NIO's rule of at most 200 PING/SETTINGS/PRIORITY frames
/// per 30 s with no way to change it, so it closed its own connection after about 200 requests and
/// every user's stream on it ended (tinode-protocol.md section 9). This link lets Tinode ping once
/// per DATA frame we send and still cuts off a peer that pings beyond that (``TinodeLinkConnection``).
/// It speaks only what `MessageLoop` needs: one bidirectional streaming call, protobuf messages, no
/// compression.
///
/// Connections are made on demand, one per slot, and replaced when they end or Tinode says GOAWAY;
/// a stream that cannot get a connection ends at once with ``TinodeLinkError/connectFailed(_:)``,
/// so the session reports `unavailable` and retries with its own backoff.
public final class TinodeLink: TinodeStreamOpening, Service {
    public struct Options: Sendable {
        public var host: String
        public var port: Int
        /// HTTP/2 connections that share the streams (`TINODE_GRPC_CONNECTIONS`).
        public var connections = 2
        /// Keepalive PINGs while streams are open; off by default: Tinode without
        /// `grpc_keepalive_enabled` disconnects clients that ping more often than every 5 minutes.
        public var keepalive: Duration?
        /// Largest message accepted from Tinode.
        public var maximumMessageBytes = 4 * 1024 * 1024
        public var connectTimeout: Duration = .seconds(5)

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
    }

    private let options: Options
    private let slots: [Slot]
    private let streams = BackgroundTasks()
    private let nextSlot = Atomic<Int>(0)
    private let nextConnectionID = Atomic<Int>(1)
    private let requestHead: HPACKHeaders
    private let metrics: TinodeLinkMetrics
    private let logger: Logger
    private let group: any EventLoopGroup

    public init(
        options: Options, metrics: TinodeLinkMetrics = TinodeLinkMetrics(), logger: Logger = Logger(label: "tinode-link"),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.options = options
        self.slots = (0..<max(1, options.connections)).map { _ in Slot() }
        self.metrics = metrics
        self.logger = logger
        self.group = group
        requestHead = HPACKHeaders([
            (":method", "POST"), (":scheme", "http"), (":path", "/pbx.Node/MessageLoop"),
            (":authority", "\(options.host):\(options.port)"), ("content-type", "application/grpc"), ("te", "trailers"),
            ("user-agent", "tinode-sidecar-gateway"),
        ])
    }

    /// Connections opened and closed so far, by reason.
    public var statistics: TinodeLinkStatistics { metrics.statistics }

    private var connectionSettings: TinodeLinkConnection.Settings {
        var settings = TinodeLinkConnection.Settings(host: options.host, port: options.port)
        settings.connectTimeout = options.connectTimeout
        settings.keepalive = options.keepalive
        return settings
    }

    public func openStream(
        consume: @escaping @Sendable (TinodeInbound) async throws -> Void,
        onEnd: @escaping @Sendable ((any Error)?) async -> Void
    ) -> TinodeStream {
        let stream = TinodeStream()
        let slot = slots[nextSlot.wrappingAdd(1, ordering: .relaxed).oldValue % slots.count]
        streams.spawn { [self] in
            let outcome: (any Error)?
            do {
                let connection = try await connection(in: slot)
                let channel = try await connection.openStream()
                outcome = await run(stream, on: channel, connection: connection, consume: consume)
            } catch {
                outcome = error
            }
            stream.cancel()  // releases the cancellation waiter when the call ended first
            await onEnd(outcome)
        }
        return stream
    }

    /// The slot's connection, made now if it has none that takes streams. Callers that arrive while
    /// a connection is being made wait for that attempt (bounded by the connect timeout) instead of
    /// making their own.
    private func connection(in slot: Slot) async throws -> TinodeLinkConnection {
        enum Next {
            case use(TinodeLinkConnection)
            case wait
            case connect
        }
        while true {
            let next = slot.state.withLock { state -> Next in
                switch state {
                case .ready(let connection) where connection.acceptsStreams:
                    return .use(connection)
                case .connecting:
                    return .wait
                case .ready, .idle:
                    state = .connecting(waiters: [])
                    return .connect
                }
            }
            switch next {
            case .use(let connection):
                return connection
            case .connect:
                return try await connect(slot)
            case .wait:
                // nil: the attempt ended before we could wait for it; look again.
                let made = try await withCheckedThrowingContinuation { (waiter: Slot.Waiter) in
                    let waiting = slot.state.withLock { state -> Bool in
                        guard case .connecting(var waiters) = state else { return false }
                        waiters.append(waiter)
                        state = .connecting(waiters: waiters)
                        return true
                    }
                    if !waiting { waiter.resume(returning: nil) }
                }
                if let made { return made }
            }
        }
    }

    /// Makes the slot's connection and hands it (or the failure) to everyone waiting for it.
    private func connect(_ slot: Slot) async throws -> TinodeLinkConnection {
        let id = nextConnectionID.wrappingAdd(1, ordering: .relaxed).oldValue
        let result: Result<TinodeLinkConnection, any Error>
        do {
            result = .success(
                try await TinodeLinkConnection.connect(id: id, settings: connectionSettings, group: group, metrics: metrics, logger: logger)
            )
        } catch {
            result = .failure(error)
        }
        let waiters = slot.state.withLock { state -> [Slot.Waiter] in
            guard case .connecting(let waiters) = state else { return [] }
            switch result {
            case .success(let connection): state = .ready(connection)
            case .failure: state = .idle
            }
            return waiters
        }
        for waiter in waiters { waiter.resume(with: result.map { Optional($0) }) }
        return try result.get()
    }

    /// One call: the request head, then the stream's messages as DATA (written by the session
    /// straight to the HTTP/2 stream, ``ChannelStreamWriter``), while `consume` reads Tinode's
    /// messages. Ends when the reading ends (Tinode's trailers, a reset, the connection's end, or the
    /// stream's cancellation, which closes the HTTP/2 stream); returns the error, if any.
    private func run(
        _ stream: TinodeStream, on channel: TinodeLinkConnection.StreamChannel, connection: TinodeLinkConnection,
        consume: @escaping @Sendable (TinodeInbound) async throws -> Void
    ) async -> (any Error)? {
        let head = requestHead
        let maximumMessageBytes = options.maximumMessageBytes
        do {
            return try await channel.executeThenClose { inbound, outbound in
                try await outbound.write(.headers(.init(headers: head)))
                let messages = TinodeInbound(frames: inbound, maximumMessageBytes: maximumMessageBytes) { [weak connection] in
                    connection?.closeReason
                }
                stream.attach(ChannelStreamWriter(channel: channel.channel))
                do {
                    try await consume(messages)
                    return nil
                } catch {
                    return error
                }
            }
        } catch {
            if let reason = connection.closeReason { return TinodeLinkError.connectionLost(reason) }
            return error
        }
    }

    /// Runs the streams until graceful shutdown or cancellation, then closes the connections.
    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.streams.run() }
            try? await gracefulShutdown()
            // The session pool, shut down before us, has closed its streams; end whatever is left.
            streams.finish()
        }
        for slot in slots {
            let connection = slot.state.withLock { state -> TinodeLinkConnection? in
                if case .ready(let connection) = state { return connection }
                return nil
            }
            connection?.close()
        }
    }

    /// One connection's place: the streams opened through it go on the connection it holds.
    private final class Slot: Sendable {
        let state = Mutex(State.idle)

        typealias Waiter = CheckedContinuation<TinodeLinkConnection?, any Error>

        enum State {
            case idle
            case connecting(waiters: [Waiter])
            case ready(TinodeLinkConnection)
        }
    }
}
