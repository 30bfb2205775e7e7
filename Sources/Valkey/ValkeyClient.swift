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
    private let logger: Logger
    private let pool: ConnectionPool

    /// Creates a client; no connection is opened until the first command.
    ///
    /// - Parameters:
    ///   - configuration: Server, credentials, connection limit and timeouts.
    ///   - eventLoopGroup: Runs the connections' I/O.
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
        self.pool = ConnectionPool(maxConnections: configuration.poolSize, logger: logger) {
            try await ValkeyConnection.connect(configuration, on: eventLoopGroup.next())
        }
    }

    deinit {
        // Only reached when the owner never called shutdown().
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

    private func send(_ commands: [[[UInt8]]]) async throws -> [RESPValue] {
        guard !commands.isEmpty, commands.allSatisfy({ !$0.isEmpty }) else {
            throw ValkeyError.protocol(reason: "empty command")
        }
        try Task.checkCancellation()
        let connection = try await pool.connection()
        return try await connection.send(commands, timeout: configuration.commandTimeout)
    }
}
