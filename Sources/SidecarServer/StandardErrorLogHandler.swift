import Foundation
import Logging
import Synchronization

/// Log lines on standard error, in swift-log's stream format:
/// `<time> <level> <label> : key=value ... [<source>] <message>`.
///
/// Unlike swift-log's `StreamLogHandler`, which formats its metadata again whenever any of it is set,
/// the metadata is only formatted when a line is actually written. Hummingbird sets a request id on
/// every request's logger; with lines below the log level that formatting was wasted work on every
/// request (about 2 % of REST-auth's time).
struct StandardErrorLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    init(label: String, logLevel: Logger.Level, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.logLevel = logLevel
        self.metadataProvider = metadataProvider
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        Self.write(
            Self.line(
                time: Self.timestamp(), level: event.level, label: label, metadata: merged, source: event.source, message: event.message))
    }

    /// One event as one line, ending in its only newline: every key, value, the source and the
    /// message go through ``LogLineEscaping``, so nothing a caller logs can start another line.
    static func line(
        time: String, level: Logger.Level, label: String, metadata: Logger.Metadata, source: String, message: Logger.Message
    ) -> String {
        var line = time + " \(level) " + LogLineEscaping.escaped(label) + " :"
        for key in metadata.keys.sorted() {
            line += " " + LogLineEscaping.escaped(key) + "=" + LogLineEscaping.escaped("\(metadata[key]!)")
        }
        line += " [" + LogLineEscaping.escaped(source) + "] " + LogLineEscaping.escaped("\(message)") + "\n"
        return line
    }

    private static let output = Mutex(())

    /// One `write` per line, under a lock, so lines from different threads never interleave.
    private static func write(_ line: String) {
        output.withLock { _ in
            var bytes = Array(line.utf8)
            var offset = 0
            while offset < bytes.count {
                let written = bytes.withUnsafeMutableBytes { buffer in
                    Foundation.write(STDERR_FILENO, buffer.baseAddress! + offset, buffer.count - offset)
                }
                if written <= 0 {
                    if written < 0 && errno == EINTR { continue }
                    return
                }
                offset += written
            }
        }
    }

    private static func timestamp() -> String {
        var now = time(nil)
        var parts = tm()
        localtime_r(&now, &parts)
        var buffer = [Int8](repeating: 0, count: 32)
        let count = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &parts)
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
