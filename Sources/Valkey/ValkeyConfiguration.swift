import Foundation

/// Where and how to connect to Valkey (or Redis), and how many connections to keep.
///
/// Usually built from a URL, `redis://[user:password@]host:port[/db]` (or `valkey://`), plus the password
/// that deployments often supply on its own (`REDIS_PASS`):
///
/// ```swift
/// let config = try ValkeyConfiguration(url: "redis://valkey:6379/0", password: env["REDIS_PASS"])
/// ```
///
/// Its `description` masks the password, so the value can be logged as a whole.
public struct ValkeyConfiguration: Sendable, Hashable {
    /// The port Valkey listens on when a URL names none.
    public static let defaultPort = 6379

    /// Host name or IP address (IPv6 without brackets).
    public var host: String
    public var port: Int
    /// ACL user name for `AUTH user password`; `nil` authenticates as the default user.
    public var username: String?
    /// Sent with `AUTH` after connecting; `nil` sends no `AUTH`.
    public var password: String?
    /// Logical database chosen with `SELECT` after connecting (0 needs no command).
    public var database: Int
    /// Upper bound on open connections; they are opened only when needed.
    public var poolSize: Int
    /// Bounds establishing the TCP connection.
    public var connectTimeout: Duration
    /// Bounds waiting for one reply, and waiting for a free pooled connection.
    public var commandTimeout: Duration
    /// How many keys read with ``ValkeyClient/trackedGet(_:)`` are tracked at once (their values are
    /// kept by the callers, under a ``TrackingLease``); 0 turns client-side caching off.
    public var cachedEntries: Int = 100_000
    /// How long a ``TrackingLease`` runs at most, should the server's report of a change never come.
    public var cachedEntryMaximumAge: Duration = .seconds(10)

    /// Creates a configuration from its parts.
    ///
    /// Values that would make the client unusable are raised to the smallest sensible value (a pool of at
    /// least one connection, timeouts of at least one millisecond): a zero timeout would mean "wait forever"
    /// to the socket layer, the opposite of what a caller asking for a short timeout wants.
    public init(
        host: String,
        port: Int = ValkeyConfiguration.defaultPort,
        username: String? = nil,
        password: String? = nil,
        database: Int = 0,
        poolSize: Int = 8,
        connectTimeout: Duration = .seconds(2),
        commandTimeout: Duration = .seconds(2)
    ) {
        self.host = host
        self.port = port
        self.username = username.flatMap { $0.isEmpty ? nil : $0 }
        self.password = password.flatMap { $0.isEmpty ? nil : $0 }
        self.database = database
        self.poolSize = max(1, poolSize)
        self.connectTimeout = max(.milliseconds(1), connectTimeout)
        self.commandTimeout = max(.milliseconds(1), commandTimeout)
    }

    /// Parses `redis://[user:password@]host[:port][/db]` or the same with `valkey://`.
    ///
    /// - Parameters:
    ///   - url: The connection URL. User name and password may be percent-encoded.
    ///   - password: A password supplied apart from the URL; used only when the URL carries none, because a
    ///     URL that spells out a password is the more specific statement.
    /// - Throws: ``ValkeyError/invalidURL(reason:)``; the reason never repeats the URL, which may hold a secret.
    public init(
        url: String,
        password: String? = nil,
        poolSize: Int = 8,
        connectTimeout: Duration = .seconds(2),
        commandTimeout: Duration = .seconds(2)
    ) throws(ValkeyError) {
        let trimmed = url.trimmingCharacters(in: .whitespaces)
        guard let schemeEnd = trimmed.range(of: "://") else {
            throw .invalidURL(reason: "expected redis://host:port[/db]")
        }
        let scheme = trimmed[..<schemeEnd.lowerBound].lowercased()
        switch scheme {
        case "redis", "valkey":
            break
        case "rediss", "valkeys":
            // The linked hiredis (0.14) is built without TLS; refusing is better than silently going plain text.
            throw .invalidURL(reason: "TLS (\(scheme)://) is not supported by this client; use redis:// or valkey://")
        default:
            throw .invalidURL(reason: "unsupported scheme '\(scheme)'; expected redis:// or valkey://")
        }
        guard let components = URLComponents(string: trimmed) else {
            throw .invalidURL(reason: "malformed URL")
        }
        guard var host = components.host, !host.isEmpty else {
            throw .invalidURL(reason: "missing host")
        }
        if host.hasPrefix("["), host.hasSuffix("]") {
            host = String(host.dropFirst().dropLast())
        }
        let port = components.port ?? Self.defaultPort
        guard (1...65535).contains(port) else {
            throw .invalidURL(reason: "port must be between 1 and 65535")
        }
        var database = 0
        let path = components.path
        if !path.isEmpty, path != "/" {
            let dbText = path.hasPrefix("/") ? String(path.dropFirst()) : path
            guard let db = Int(dbText), db >= 0 else {
                throw .invalidURL(reason: "database must be a non-negative integer after the port, e.g. /0")
            }
            database = db
        }
        if let query = components.query, !query.isEmpty {
            throw .invalidURL(reason: "query parameters are not supported")
        }
        let urlUser = components.percentEncodedUser.flatMap { $0.removingPercentEncoding }
        let urlPassword = components.percentEncodedPassword.flatMap { $0.removingPercentEncoding }
        let chosenPassword = (urlPassword?.isEmpty == false) ? urlPassword : password
        self.init(
            host: host,
            port: port,
            username: urlUser,
            password: chosenPassword,
            database: database,
            poolSize: poolSize,
            connectTimeout: connectTimeout,
            commandTimeout: commandTimeout
        )
    }
}

extension ValkeyConfiguration: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The connection as a URL with the password replaced by `***`, safe to log.
    public var description: String {
        var credentials = ""
        if username != nil || password != nil {
            credentials = (username ?? "") + (password != nil ? ":***" : "") + "@"
        }
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "redis://\(credentials)\(hostPart):\(port)/\(database)"
            + " (pool \(poolSize), connect timeout \(connectTimeout), command timeout \(commandTimeout))"
    }

    public var debugDescription: String { description }

    /// Keeps the password out of `dump(_:)` and debugger output, which otherwise list every stored property.
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "host": host, "port": port, "username": username as Any,
                "password": password == nil ? "nil" : "***", "database": database, "poolSize": poolSize,
                "connectTimeout": connectTimeout, "commandTimeout": commandTimeout,
            ],
            displayStyle: .struct
        )
    }
}
