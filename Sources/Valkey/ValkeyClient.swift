import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// An async Valkey/Redis client: a few shared, non-blocking connections that pipeline concurrent commands.
///
/// Connections run on NIO event loops. Commands from concurrent callers share a connection and are answered
/// in order, so a busy process needs a handful of connections, not one per caller, and no thread ever
/// blocks on the network. hiredis's reply reader parses what the server sends.
///
/// Run it in a `ServiceGroup`: ``run()`` waits for graceful shutdown and then closes the connections.
/// Commands issued after that fail with ``ValkeyError/poolClosed``. Outside a service group, call
/// ``shutdown()``.
///
/// All methods throw ``ValkeyError`` for Valkey failures and `CancellationError` when the calling task is
/// cancelled (at once; the reply is dropped when it arrives). A top-level error reply is thrown as
/// ``ValkeyError/serverError(message:)``. A connection that breaks, or that goes silent for a whole
/// command timeout, is closed, and the next command opens a new one.
public final class ValkeyClient: Service, Sendable {
    public let configuration: ValkeyConfiguration
    let logger: Logger
    private let pool: ConnectionPool
    private let tracking: TrackedKeys
    /// Runs the connections of ``subscribe(to:received:subscribed:)``.
    let eventLoopGroup: any EventLoopGroup
    /// Opens the invalidation subscription; made once, not on every tracked read.
    private let openListener: @Sendable () async throws -> (Int64, ValkeyConnection)

    /// Creates a client; no connection is opened until the first command.
    ///
    /// - Parameters:
    ///   - configuration: Server, credentials, connection limit and timeouts.
    ///   - eventLoopGroup: Runs the connections' I/O.
    ///   - logger: Receives connection events; never the password.
    /// The event loop that runs every client's connections unless another group is given: one thread of
    /// its own, so that replies are read at once even while the HTTP and gRPC event loops are busy.
    public static let defaultEventLoopGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    public init(
        configuration: ValkeyConfiguration,
        eventLoopGroup: any EventLoopGroup = ValkeyClient.defaultEventLoopGroup,
        logger: Logger = Logger(label: "valkey")
    ) {
        var logger = logger
        logger[metadataKey: "valkey.host"] = "\(configuration.host):\(configuration.port)"
        logger[metadataKey: "valkey.db"] = "\(configuration.database)"
        self.configuration = configuration
        self.logger = logger
        let tracking = TrackedKeys(
            maximumEntries: configuration.cachedEntries, maximumAge: configuration.cachedEntryMaximumAge,
            heartbeatTimeout: configuration.commandTimeout, logger: logger)
        self.tracking = tracking
        self.eventLoopGroup = eventLoopGroup
        self.openListener = {
            try await Self.openInvalidationListener(configuration: configuration, on: eventLoopGroup.next(), tracking: tracking)
        }
        // Keys a connection read with tracking on are no longer reported once it is gone.
        let onClose: (@Sendable () -> Void)? = tracking.isEnabled ? { @Sendable in tracking.invalidateAll() } : nil
        self.pool = ConnectionPool(maxConnections: configuration.poolSize, logger: logger) {
            try await ValkeyConnection.connect(configuration, on: eventLoopGroup.next(), onClose: onClose)
        }
    }

    deinit {
        // Only reached when the owner never called shutdown().
        tracking.close()
        pool.closeNow()
    }

    /// Waits for graceful shutdown (or cancellation), then closes the connections.
    public func run() async throws {
        try? await gracefulShutdown()
        await shutdown()
    }

    /// Refuses new commands, lets commands already sent finish (at most one command timeout), then closes
    /// the connections; later commands fail with ``ValkeyError/poolClosed``. Safe to call twice.
    public func shutdown() async {
        tracking.close()
        await pool.close(within: configuration.commandTimeout)
        logger.debug("Valkey client shut down")
    }

    /// Sends one command made of text arguments, e.g. `["SET", "key", "value"]`.
    public func command(_ arguments: [String]) async throws -> RESPValue {
        try await command(bytes: arguments.map { Array($0.utf8) })
    }

    /// Sends one command made of binary-safe arguments (they may contain NUL bytes).
    public func command(bytes arguments: [[UInt8]]) async throws -> RESPValue {
        let reply = try await send([arguments])[0]
        if case .error(let message) = reply {
            throw ValkeyError.serverError(message: message)
        }
        return reply
    }

    /// Sends several commands on one connection in one write and returns their replies in order.
    ///
    /// Error replies are returned as ``RESPValue/error(_:)`` elements, so one failing command does not hide
    /// the results of the others.
    public func pipeline(_ commands: [[String]]) async throws -> [RESPValue] {
        try await send(commands.map { $0.map { Array($0.utf8) } })
    }

    /// Runs the commands atomically with `MULTI`/`EXEC` on one connection and returns their results.
    ///
    /// - Throws: ``ValkeyError/serverError(message:)`` when the server refuses the transaction (for
    ///   example `EXECABORT` after a command with wrong arguments); nothing has run in that case.
    public func transaction(_ commands: [[String]]) async throws -> [RESPValue] {
        // One write holds MULTI, the commands and EXEC, so no other caller's command can land in between.
        let replies = try await pipeline([["MULTI"]] + commands + [["EXEC"]])
        switch replies.last {
        case .array(let results):
            return results
        case .error(let message):
            throw ValkeyError.serverError(message: message)
        default:
            throw ValkeyError.protocol(reason: "unexpected reply to EXEC")
        }
    }

    /// Whether a lease of `key` runs now (tests wait for this).
    func isTracking(_ key: String) -> Bool { tracking.isLeased(key) }

    /// `GET` with a ``TrackingLease`` that says how long the value stays the server's, for callers that
    /// keep what they read (decoded as they need it) and check the lease on every use instead of
    /// reading again. The lease is nil when tracking is off (``ValkeyConfiguration/cachedEntries`` 0),
    /// not ready yet, or lost a race with a report: then use the value once and keep nothing.
    ///
    /// Only for keys that are read far more often than written: each tracked key costs the server an
    /// entry in its tracking table until the key changes.
    public func trackedGet(_ key: String) async throws -> (value: [UInt8]?, lease: TrackingLease?) {
        guard tracking.isEnabled, case .tracked(let redirect, let epoch) = tracking.plan(open: openListener) else {
            return (try await get(key), nil)
        }
        let replies = try await send([
            ["CLIENT", "TRACKING", "ON", "REDIRECT", String(redirect), "OPTIN"].map { Array($0.utf8) },
            [Array("CLIENT".utf8), Array("CACHING".utf8), Array("YES".utf8)],
            [Array("GET".utf8), Array(key.utf8)],
        ])
        let value: [UInt8]?
        switch replies[2] {
        case .bulkString(let bytes): value = bytes
        case .null: value = nil
        case .error(let message): throw ValkeyError.serverError(message: message)
        case let other: throw Self.unexpected(other, to: "GET")
        }
        // The subscription was replaced meanwhile (the redirect id is gone): the value, without a lease.
        guard case .simpleString = replies[0], case .simpleString = replies[1] else { return (value, nil) }
        return (value, tracking.lease(for: key, readAt: epoch))
    }

    /// Ends the leases of `key` (nil: of every key) at once, without waiting for the server's report;
    /// for the process that just deleted or changed it.
    public func invalidate(_ key: String? = nil) {
        if let key { tracking.invalidate(key) } else { tracking.invalidateAll() }
    }

    /// A connection of its own subscribed to the server's invalidation reports; returns its client id.
    private static func openInvalidationListener(
        configuration: ValkeyConfiguration, on eventLoop: any EventLoop, tracking: TrackedKeys
    ) async throws -> (Int64, ValkeyConnection) {
        let connection = try await ValkeyConnection.connect(
            configuration, on: eventLoop, onPush: { tracking.received($0) }, onClose: { tracking.listenerClosed() })
        do {
            connection.reserve()
            let replies = try await connection.send(
                [[Array("CLIENT".utf8), Array("ID".utf8)], [Array("SUBSCRIBE".utf8), Array(TrackedKeys.channel.utf8)]],
                timeout: configuration.commandTimeout)
            guard let id = replies[0].integer, case .array = replies[1] else {
                throw ValkeyError.protocol(reason: "unexpected reply to CLIENT ID / SUBSCRIBE")
            }
            return (id, connection)
        } catch {
            connection.close()
            throw error
        }
    }

    private func send(_ commands: [[[UInt8]]]) async throws -> [RESPValue] {
        guard !commands.isEmpty, commands.allSatisfy({ !$0.isEmpty }) else {
            throw ValkeyError.protocol(reason: "empty command")
        }
        try Task.checkCancellation()
        let connection = try await pool.connection()
        return try await connection.send(commands, timeout: configuration.commandTimeout)
    }
}
