/// Every failure the Valkey client reports.
///
/// The cases are stable so that callers can map them once, at the edge (for example to an HTTP 503).
/// No case ever carries the password: reasons come from the operating system, hiredis or the server,
/// none of which echo credentials back.
public enum ValkeyError: Error, Sendable, Hashable {
    /// The server could not be reached, or the connection broke while a command was in flight.
    case connectionFailed(reason: String)
    /// The server did not answer within the command timeout, or no pooled connection became free in time.
    case timeout
    /// The server refused the credentials while a new connection was being set up.
    case authenticationFailed
    /// The server answered a command with an error reply (`-ERR ...`, `-WRONGTYPE ...`, ...).
    case serverError(message: String)
    /// The reply could not be read or had a shape the caller did not expect.
    case `protocol`(reason: String)
    /// The client has been shut down.
    case poolClosed
    /// The connection URL could not be understood.
    case invalidURL(reason: String)
}

extension ValkeyError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .connectionFailed(let reason): "Valkey connection failed: \(reason)"
        case .timeout: "Valkey command timed out"
        case .authenticationFailed: "Valkey authentication failed"
        case .serverError(let message): "Valkey server error: \(message)"
        case .protocol(let reason): "Valkey protocol error: \(reason)"
        case .poolClosed: "Valkey client is shut down"
        case .invalidURL(let reason): "Invalid Valkey URL: \(reason)"
        }
    }
}
