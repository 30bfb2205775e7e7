import Logging
import Synchronization

/// Log lines kept in memory, for tests that read what a program logged (the secret scan).
public final class CapturedLogs: Sendable {
    private let lines = Mutex<[String]>([])

    public init() {}

    /// A logger at `level` whose every line, metadata included, lands here.
    public func logger(label: String, level: Logger.Level = .trace) -> Logger {
        var logger = Logger(label: label) { label in CapturingLogHandler(label: label, sink: self) }
        logger.logLevel = level
        return logger
    }

    public var all: [String] { lines.withLock { $0 } }

    func append(_ line: String) { lines.withLock { $0.append(line) } }
}

/// Formats a record the way a reader of the log would see it: level, label, message, metadata
/// (the handler's and the call's) and source.
struct CapturingLogHandler: LogHandler {
    let label: String
    let sink: CapturedLogs
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        let fields = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let error = event.error.map { " error=\($0)" } ?? ""
        sink.append("\(event.level) \(label): \(event.message) \(fields)\(error) [\(event.source)]")
    }
}
