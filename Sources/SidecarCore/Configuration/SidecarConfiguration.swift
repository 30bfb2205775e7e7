import Configuration
import Crypto
import Foundation
import Logging

/// Everything both programs read at start-up, checked once.
public struct SidecarConfiguration: Sendable {
    public var environment: DeploymentEnvironment
    public var ssl: Bool
    public var sslCertificateFile: String?
    public var sslKeyFile: String?
    public var jwt: JWTSettings
    public var valkey: ValkeySettings?
    public var tinodeTopicID: String?
    public var tinodeGRPCAddress: NetworkAddress
    public var tinodeClient: TinodeClientSettings
    public var gatewayLimits: GatewayLimits
    /// `TRUSTED_PROXIES`: peers whose `X-Forwarded-For` and `Forwarded` name the Gateway's client.
    public var trustedProxies: NetworkAllowList
    /// Tinode's MongoDB for the Gateway's reads; nil: history through Tinode's protocol.
    public var mongo: MongoSettings?
    public var authPluginHTTPAddress: NetworkAddress
    public var authPluginGRPCAddress: NetworkAddress
    /// The plugin port: how long a connection may stay open with no call in progress.
    public var authPluginGRPCIdleTimeout: Duration
    /// The plugin port: calls in progress per connection, open connections, largest request message.
    public var authPluginGRPCMaxStreams: Int
    public var authPluginGRPCMaxConnections: Int
    public var authPluginGRPCMaxMessageBytes: Int
    public var gatewayHTTPAddress: NetworkAddress
    /// The Gateway's `/metrics` listener, apart from the public API.
    public var gatewayMetricsAddress: NetworkAddress
    /// Both HTTP servers: how long a client may take to send one request (headers and body).
    public var httpRequestTimeout: Duration
    /// Both HTTP servers: how long a connection may stay open with no request in progress.
    public var httpIdleTimeout: Duration
    public var loginNameMaxLength: Int
    public var logLevel: Logger.Level
    public var restAuth: RESTAuthSettings
    public var plugin: PluginSettings
    /// Things an operator should know, logged as warnings at start-up (never containing secrets).
    public var warnings: [String]

    /// Every setting `program` reads (each with its value, for the start-up log).
    public var loggableSummary: [(name: String, value: String)]

    /// Reads and checks the settings that `program` reads (`Setting.readBy`); the others keep their
    /// defaults, so that one program never refuses to start over the other's settings. Each part
    /// reads its own settings (`JWTSettings`, `ValkeySettings`, `GatewayLimits`, ...).
    /// - Throws: `ConfigurationError` naming the first setting that cannot be used.
    public init(reader configReader: ConfigReader, program: Programs = .both) throws {
        let reader = SettingsReader(configReader, program: program)
        loggableSummary = reader.report()
        var warnings: [String] = []
        let environmentText = reader.string(Settings.environment) ?? Settings.environment.defaultValue
        guard let environment = DeploymentEnvironment(rawValue: environmentText.lowercased()) else {
            throw ConfigurationError(
                setting: Settings.environment.name, reason: "must be `development` or `production`, not `\(environmentText)`")
        }
        self.environment = environment
        ssl = try reader.bool(Settings.ssl)
        sslCertificateFile = reader.string(Settings.sslCertificateFile)
        sslKeyFile = reader.string(Settings.sslKeyFile)
        if ssl, sslCertificateFile == nil || sslKeyFile == nil {
            throw ConfigurationError(setting: Settings.ssl.name, reason: "SSL=true needs SSL_CERT_FILE and SSL_KEY_FILE")
        }
        jwt = try JWTSettings(reader: reader, environment: environment, warnings: &warnings)
        valkey = try ValkeySettings.read(reader, environment: environment, warnings: &warnings)
        tinodeTopicID = reader.string(Settings.tinodeTopicID)
        tinodeGRPCAddress = try reader.address(Settings.tinodeGRPCAddress)
        gatewayLimits = try GatewayLimits(reader: reader, environment: environment, warnings: &warnings)
        trustedProxies = try Self.trustedProxies(reader, warnings: &warnings)
        mongo = try MongoSettings.read(reader)
        tinodeClient = try TinodeClientSettings(reader: reader)
        authPluginHTTPAddress = try reader.address(Settings.authPluginHTTPAddress)
        authPluginGRPCAddress = try reader.address(Settings.authPluginGRPCAddress)
        authPluginGRPCIdleTimeout = .seconds(try reader.int(Settings.authPluginGRPCIdleTimeout, in: 1...86_400))
        authPluginGRPCMaxStreams = try reader.int(Settings.authPluginGRPCMaxStreams, in: 1...10_000)
        authPluginGRPCMaxConnections = try reader.int(Settings.authPluginGRPCMaxConnections, in: 1...100_000)
        authPluginGRPCMaxMessageBytes = try reader.int(Settings.authPluginGRPCMaxMessageBytes, in: 65_536...67_108_864)
        gatewayHTTPAddress = try reader.address(Settings.gatewayHTTPAddress)
        gatewayMetricsAddress = try reader.address(Settings.gatewayMetricsAddress)
        httpRequestTimeout = .seconds(try reader.int(Settings.httpRequestTimeout, in: 1...3600))
        httpIdleTimeout = .seconds(try reader.int(Settings.httpIdleTimeout, in: 1...86_400))
        loginNameMaxLength = try reader.int(
            Settings.loginNameMaxLength, in: (LoginNameMapper.suffixLength + 1)...LoginNameMapper.absoluteMaximumLength)
        let levelText = reader.string(Settings.logLevel) ?? Settings.logLevel.defaultValue
        guard let level = Logger.Level(rawValue: levelText.lowercased()) else {
            throw ConfigurationError(setting: Settings.logLevel.name, reason: "unknown level `\(levelText)`")
        }
        logLevel = level
        restAuth = try RESTAuthSettings(reader: reader, environment: environment)
        plugin = try PluginSettings(reader: reader, environment: environment, warnings: &warnings)
        self.warnings = warnings
    }

    /// `TRUSTED_PROXIES`, with a warning for a block that trusts every address: then any client can
    /// name any address, and the per-client limits count nothing.
    private static func trustedProxies(_ reader: SettingsReader, warnings: inout [String]) throws -> NetworkAllowList {
        guard let proxies = NetworkAllowList(parsing: reader.string(Settings.trustedProxies) ?? "") else {
            throw ConfigurationError(
                setting: Settings.trustedProxies.name, reason: "must be comma-separated CIDR blocks such as 10.0.0.0/8 or 192.0.2.10/32")
        }
        if proxies.blocks.contains(where: { $0.prefixLength == 0 }) {
            warnings.append(
                "\(Settings.trustedProxies.name) trusts every address (a /0 block): any client can name its own address, so the per-client limits count nothing; list only your proxies"
            )
        }
        return proxies
    }
}
