import Foundation

/// Where the Valkey server is and how to talk to it.
public struct ValkeySettings: Sendable {
    /// `redis://...`; may hold a password, so never log it as is (see `maskedURL`).
    public var url: String
    public var password: SecretBytes?
    public var poolSize: Int
    /// Keys `ValkeyClient.trackedGet` tracks (token records kept in memory while Valkey reports no
    /// change); 0: no client-side caching.
    public var cacheEntries: Int = 100_000
    public var connectTimeout: Duration
    public var commandTimeout: Duration

    /// The URL with any password replaced by `***`.
    public static func maskedURL(_ url: String) -> String {
        guard let scheme = url.range(of: "://"), let at = url[scheme.upperBound...].lastIndex(of: "@") else {
            return url
        }
        let userInfo = url[scheme.upperBound..<at]
        let user = userInfo.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        return url[..<scheme.upperBound] + user + ":***" + url[at...]
    }
}

extension ValkeySettings {
    /// `VALKEY_*` and `REDIS_PASS`; nil without `VALKEY_URL` (the embedded store, development only).
    static func read(_ reader: SettingsReader, environment: DeploymentEnvironment, warnings: inout [String]) throws -> ValkeySettings? {
        guard let url = reader.string(Settings.valkeyURL) else {
            if environment == .production {
                throw ConfigurationError(
                    setting: Settings.valkeyURL.name,
                    reason: "is required in production (the embedded store loses every token on restart and is not shared)")
            }
            warnings.append(
                "VALKEY_URL is unset: using the embedded in-memory store; tokens are lost on restart and not shared between processes")
            return nil
        }
        return ValkeySettings(
            url: url,
            password: reader.string(Settings.redisPassword).map(SecretBytes.init),
            poolSize: try reader.int(Settings.valkeyPoolSize, in: 1...256),
            cacheEntries: try reader.int(Settings.valkeyCacheEntries, in: 0...10_000_000),
            connectTimeout: .milliseconds(try reader.int(Settings.valkeyConnectTimeout, in: 10...60_000)),
            commandTimeout: .milliseconds(try reader.int(Settings.valkeyCommandTimeout, in: 10...60_000)))
    }
}
