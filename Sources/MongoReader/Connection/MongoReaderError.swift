/// What can go wrong reading MongoDB. Every case means "try again later" to an HTTP client (503):
/// the reader has no failure that bad input could cause.
public enum MongoReaderError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `MONGO_URL` could not be used (the message never contains its password).
    case invalidConfiguration(String)
    /// No server could be selected, the connection failed, or the server refused the query
    /// (libmongoc's message, password-free).
    case unavailable(String)
    /// The request's overall deadline passed before the reads finished.
    case deadlineExceeded
    /// The reader is shutting down.
    case closed

    public var description: String {
        switch self {
        case .invalidConfiguration(let message): return "invalid MongoDB configuration: \(message)"
        case .unavailable(let message): return "MongoDB unavailable: \(message)"
        case .deadlineExceeded: return "MongoDB read deadline exceeded"
        case .closed: return "MongoDB reader closed"
        }
    }
}
