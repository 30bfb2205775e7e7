import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// An async Valkey/Redis client backed by hiredis and a bounded connection pool.
///
/// hiredis is a blocking library; every blocking call (connect, `AUTH`, commands) runs on a thread of a
/// `NIOThreadPool` that the client owns, sized to the pool, so neither event loops nor the Swift
/// concurrency cooperative pool are ever blocked.
///
/// Run it in a `ServiceGroup`: ``run()`` waits for graceful shutdown and then closes the pool. Commands
/// issued after that fail with ``ValkeyError/poolClosed``. Outside a service group, call ``shutdown()``.
///
/// All methods throw ``ValkeyError`` for Valkey failures and `CancellationError` when the calling task is
/// cancelled. A top-level error reply is thrown as ``ValkeyError/serverError(message:)`` and leaves the
/// connection in the pool; an I/O error, a protocol error or a timeout closes the connection, and the next
/// command opens a new one.
public final class ValkeyClient: Service, Sendable {
    public let configuration: ValkeyConfiguration
    private let logger: Logger
    private let threadPool: NIOThreadPool
    private let pool: ConnectionPool

    /// Creates a client; no connection is opened until the first command.
    ///
    /// - Parameters:
    ///   - configuration: Server, credentials, pool size and timeouts.
    ///   - eventLoopGroup: Only used for timers of callers waiting for a free connection.
    ///   - logger: Receives connection events; never the password.
    public init(
        configuration: ValkeyConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "valkey")
    ) {
        var logger = logger
        logger[metadataKey: "valkey.host"] = "\(configuration.host):\(configuration.port)"
        logger[metadataKey: "valkey.db"] = "\(configuration.database)"
        self.configuration = configuration
        self.logger = logger
        // One thread per possible connection: a leased connection runs at most one blocking call at a time,
        // so blocking work never queues behind other blocking work.
        let threadPool = NIOThreadPool(numberOfThreads: configuration.poolSize)
        threadPool.start()
        self.threadPool = threadPool
        self.pool = ConnectionPool(
            maxConnections: configuration.poolSize,
            eventLoop: eventLoopGroup.any(),
            logger: logger
        ) {
            try await Self.onThreadPool(threadPool) { () throws(ValkeyError) in
                try HiredisConnection.connect(configuration)
            }
        }
    }

    deinit {
        // Only reached when the owner never called shutdown(); frees what we can without waiting.
        pool.close()
        threadPool.shutdownGracefully { _ in }
    }

    /// Waits for graceful shutdown (or cancellation), then closes the pool.
    public func run() async throws {
        try? await gracefulShutdown()
        await shutdown()
    }

    /// Closes the pool and stops the client's threads; later commands fail with ``ValkeyError/poolClosed``.
    ///
    /// Commands already running finish first (they are bounded by the command timeout). Safe to call twice.
    public func shutdown() async {
        pool.close()
        do {
            try await threadPool.shutdownGracefully()
        } catch {
            logger.debug("Valkey thread pool was already shut down")
        }
        logger.debug("Valkey client shut down")
    }

    /// Sends one command made of text arguments, e.g. `["SET", "key", "value"]`.
    public func command(_ arguments: [String]) async throws -> RESPValue {
        try await command(bytes: arguments.map { Array($0.utf8) })
    }

    /// Sends one command made of binary-safe arguments (they may contain NUL bytes).
    public func command(bytes arguments: [[UInt8]]) async throws -> RESPValue {
        let reply = try await withConnection { connection throws(ValkeyError) in
            try connection.send(arguments)
        }
        if case .error(let message) = reply {
            throw ValkeyError.serverError(message: message)
        }
        return reply
    }

    /// Sends several commands on one connection in one round trip and returns their replies in order.
    ///
    /// Error replies are returned as ``RESPValue/error(_:)`` elements, so one failing command does not hide
    /// the results of the others.
    public func pipeline(_ commands: [[String]]) async throws -> [RESPValue] {
        let encoded = commands.map { $0.map { Array($0.utf8) } }
        return try await withConnection { connection throws(ValkeyError) in
            try connection.pipeline(encoded)
        }
    }

    /// Runs the commands atomically with `MULTI`/`EXEC` on one connection and returns their results.
    ///
    /// - Throws: ``ValkeyError/serverError(message:)`` when the server refuses the transaction (for
    ///   example `EXECABORT` after a command with wrong arguments); nothing has run in that case.
    public func transaction(_ commands: [[String]]) async throws -> [RESPValue] {
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

    /// Leases a connection, runs `body` on the thread pool, and returns or discards the connection.
    private func withConnection<T: Sendable>(
        _ body: @escaping @Sendable (HiredisConnection) throws(ValkeyError) -> T
    ) async throws -> T {
        let connection = try await pool.lease(timeout: configuration.commandTimeout)
        do {
            let value = try await withTaskCancellationHandler {
                try await Self.onThreadPool(threadPool) { () throws(ValkeyError) in try body(connection) }
            } onCancel: {
                // Wakes the blocked read at once instead of letting the cancelled caller wait for the timeout.
                connection.abort()
            }
            pool.release(connection)
            return value
        } catch {
            // The body only throws for transport-level failures, after which the reply stream is out of step.
            pool.discard(connection)
            if connection.wasAborted { throw CancellationError() }
            logger.debug("Discarded a Valkey connection after a failed command", metadata: ["error": "\(error)"])
            throw error
        }
    }

    private static func onThreadPool<T: Sendable>(
        _ threadPool: NIOThreadPool,
        _ body: @escaping @Sendable () throws(ValkeyError) -> T
    ) async throws -> T {
        do {
            return try await threadPool.runIfActive { try body() }
        } catch is NIOThreadPoolError.ThreadPoolInactive {
            throw ValkeyError.poolClosed
        }
    }
}
