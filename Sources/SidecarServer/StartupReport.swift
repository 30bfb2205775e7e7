import Hummingbird
import Logging
import SidecarCore

extension SidecarConfiguration {
    /// Logs every setting (secrets masked) and every warning, once at start-up.
    public func logStartup(program: String, logger: Logger) {
        var metadata: Logger.Metadata = [:]
        for (name, value) in loggableSummary { metadata[name] = .string(value) }
        logger.info("\(program) starting", metadata: metadata)
        for warning in warnings { logger.warning("\(warning)") }
    }
}

extension NetworkAddress {
    /// The Hummingbird bind address.
    public var bindAddress: Hummingbird.BindAddress { .hostname(host, port: port) }
}
