import Foundation

/// Tinode's MongoDB, which the Gateway reads (never writes) for history and the user directory.
public struct MongoSettings: Sendable {
    /// A connection string; holds a password, so log it only through `ValkeySettings.maskedURL`.
    public var url: String
    public var database: String
    public var timeout: Duration
    public var poolSize: Int
    /// Read history through Tinode's protocol when MongoDB fails, instead of answering 503.
    public var fallbackToTinode: Bool

    public init(url: String, database: String, timeout: Duration, poolSize: Int, fallbackToTinode: Bool) {
        self.url = url
        self.database = database
        self.timeout = timeout
        self.poolSize = poolSize
        self.fallbackToTinode = fallbackToTinode
    }
}

extension MongoSettings {
    /// `MONGO_*`; nil without `MONGO_URL` (history through Tinode's protocol).
    static func read(_ reader: SettingsReader) throws -> MongoSettings? {
        guard let url = reader.string(Settings.mongoURL) else { return nil }
        guard url.hasPrefix("mongodb://") || url.hasPrefix("mongodb+srv://") else {
            throw ConfigurationError(setting: Settings.mongoURL.name, reason: "must start with mongodb:// or mongodb+srv://")
        }
        return MongoSettings(
            url: url, database: reader.string(Settings.mongoDatabase) ?? Settings.mongoDatabase.defaultValue,
            timeout: .milliseconds(try reader.int(Settings.mongoTimeout, in: 50...120_000)),
            poolSize: try reader.int(Settings.mongoPoolSize, in: 1...256),
            fallbackToTinode: try reader.bool(Settings.mongoFallback))
    }
}
