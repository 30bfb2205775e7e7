import CMongoc
import Logging

/// libmongoc's process-wide set-up: `mongoc_init` exactly once, and its log messages routed into
/// swift-log instead of straight to standard error (where they would bypass the log level).
enum MongocLibrary {
    /// Touch before the first libmongoc call; `static let` runs the initialiser once, thread-safely.
    static let initialized: Void = {
        mongoc_init()
        mongoc_log_set_handler(forwardLog, nil)
    }()

    static let logger = Logger(label: "mongoc")
}

/// libmongoc's log handler (a C function pointer, so no captures). Its warnings are about
/// connections and topology; they carry host names, not the connection string's password.
private func forwardLog(
    level: mongoc_log_level_t, domain: UnsafePointer<CChar>?, message: UnsafePointer<CChar>?, _: UnsafeMutableRawPointer?
) {
    let text = message.map { String(cString: $0) } ?? ""
    let metadata: Logger.Metadata = ["domain": "\(domain.map { String(cString: $0) } ?? "")"]
    switch level {
    case MONGOC_LOG_LEVEL_ERROR, MONGOC_LOG_LEVEL_CRITICAL: MongocLibrary.logger.error("\(text)", metadata: metadata)
    case MONGOC_LOG_LEVEL_WARNING: MongocLibrary.logger.warning("\(text)", metadata: metadata)
    case MONGOC_LOG_LEVEL_MESSAGE, MONGOC_LOG_LEVEL_INFO: MongocLibrary.logger.debug("\(text)", metadata: metadata)
    default: MongocLibrary.logger.trace("\(text)", metadata: metadata)
    }
}
