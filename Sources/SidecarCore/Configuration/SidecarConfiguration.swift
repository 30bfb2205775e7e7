import Configuration
import Crypto
import Foundation
import Logging

/// `development` is forgiving (generated secrets, embedded store); `production` refuses to start
/// with anything weak or missing.
public enum DeploymentEnvironment: String, Sendable {
    case development
    case production
}

/// Bytes that must never be printed. Its description is always `<redacted>`.
public struct SecretBytes: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public let bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public init(_ text: String) { self.bytes = Array(text.utf8) }
    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }

    /// 32 bytes from the system's secure random generator.
    public static func random() -> SecretBytes {
        SecretBytes(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) })
    }
}

/// Everything both programs read at start-up, checked once.
public struct SidecarConfiguration: Sendable {
    /// Secrets shorter than this are refused in production (HS256 wants a key as long as its hash).
    public static let minimumSecretBytes = 32

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
    /// defaults, so that one program never refuses to start over the other's settings.
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
        ssl = try Self.bool(reader, Settings.ssl)
        sslCertificateFile = reader.string(Settings.sslCertificateFile)
        sslKeyFile = reader.string(Settings.sslKeyFile)
        if ssl, sslCertificateFile == nil || sslKeyFile == nil {
            throw ConfigurationError(setting: Settings.ssl.name, reason: "SSL=true needs SSL_CERT_FILE and SSL_KEY_FILE")
        }

        let signingKeysJSON = reader.string(Settings.signingKeys)
        let accessSecret = try Self.secret(
            reader, Settings.accessSecret, environment: environment,
            required: signingKeysJSON == nil, warnings: &warnings)
        // Only the Gateway issues and checks refresh tokens.
        let refreshSecret = try Self.secret(
            reader, Settings.refreshSecret, environment: environment, required: program.contains(.gateway), warnings: &warnings)
        let previousAccessSecret = try reader.string(Settings.previousAccessSecret).map { text in
            let secret = SecretBytes(text)
            guard secret.bytes.count >= Self.minimumSecretBytes else {
                throw ConfigurationError(
                    setting: Settings.previousAccessSecret.name, reason: "must be at least \(Self.minimumSecretBytes) bytes")
            }
            return secret
        }
        jwt = JWTSettings(
            accessSecret: accessSecret,
            previousAccessSecret: previousAccessSecret,
            refreshSecret: refreshSecret ?? SecretBytes.random(),
            signingKeysJSON: signingKeysJSON,
            issuer: reader.string(Settings.issuer) ?? Settings.issuer.defaultValue,
            audience: reader.string(Settings.audience) ?? Settings.audience.defaultValue,
            accessTTL: .seconds(try Self.int(reader, Settings.accessTTL, in: 10...86_400)),
            refreshTTL: .seconds(try Self.int(reader, Settings.refreshTTL, in: 60...31_536_000)),
            leeway: .seconds(try Self.int(reader, Settings.clockSkew, in: 0...300))
        )

        if let url = reader.string(Settings.valkeyURL) {
            valkey = ValkeySettings(
                url: url,
                password: reader.string(Settings.redisPassword).map(SecretBytes.init),
                poolSize: try Self.int(reader, Settings.valkeyPoolSize, in: 1...256),
                cacheEntries: try Self.int(reader, Settings.valkeyCacheEntries, in: 0...10_000_000),
                connectTimeout: .milliseconds(try Self.int(reader, Settings.valkeyConnectTimeout, in: 10...60_000)),
                commandTimeout: .milliseconds(try Self.int(reader, Settings.valkeyCommandTimeout, in: 10...60_000))
            )
        } else if environment == .production {
            throw ConfigurationError(
                setting: Settings.valkeyURL.name,
                reason: "is required in production (the embedded store loses every token on restart and is not shared)")
        } else {
            valkey = nil
            warnings.append(
                "VALKEY_URL is unset: using the embedded in-memory store; tokens are lost on restart and not shared between processes")
        }

        tinodeTopicID = reader.string(Settings.tinodeTopicID)
        tinodeGRPCAddress = try Self.address(reader, Settings.tinodeGRPCAddress)
        let sendsPerSecondText = reader.string(Settings.gatewaySendsPerSecond) ?? Settings.gatewaySendsPerSecond.defaultValue
        guard let sendsPerSecond = Double(sendsPerSecondText), sendsPerSecond > 0, sendsPerSecond <= 10_000 else {
            throw ConfigurationError(
                setting: Settings.gatewaySendsPerSecond.name,
                reason: "must be a number above 0 and at most 10000, not `\(sendsPerSecondText)`")
        }
        let verification: EmailVerificationMode
        switch reader.string(Settings.gatewayEmailVerification) {
        case nil:
            verification = environment == .production ? .required : .off
        case let text?:
            guard let mode = EmailVerificationMode(rawValue: text.lowercased()) else {
                throw ConfigurationError(
                    setting: Settings.gatewayEmailVerification.name, reason: "must be `required` or `off`, not `\(text)`")
            }
            verification = mode
        }
        if verification == .off, reader.reads(Settings.gatewayEmailVerification) {
            warnings.append(
                "GATEWAY_EMAIL_VERIFICATION is off: the Gateway registers any e-mail address without proof; such addresses never link to other logins (set it to required, with Tinode's acc_validation.email, in production)"
            )
        }
        gatewayLimits = GatewayLimits(
            authAttemptsPerMinute: try Self.int(reader, Settings.gatewayAuthAttempts, in: 1...1_000_000),
            loginAttemptsPerAccountPerHour: try Self.int(reader, Settings.gatewayLoginAttemptsPerAccount, in: 1...1_000_000),
            emailVerification: verification,
            verifyAttemptsPerHour: try Self.int(reader, Settings.gatewayVerifyAttempts, in: 1...1_000_000),
            verifyResendsPerHour: try Self.int(reader, Settings.gatewayVerifyResends, in: 1...1_000_000),
            maximumLoginsPerUser: try Self.int(reader, Settings.gatewayMaxLogins, in: 1...100_000),
            refreshGrace: .seconds(try Self.int(reader, Settings.gatewayRefreshGrace, in: 0...3_600)),
            refreshRetryWindow: .seconds(try Self.int(reader, Settings.gatewayRefreshRetry, in: 0...60)),
            streamRecheckInterval: .seconds(try Self.int(reader, Settings.gatewayStreamRecheck, in: 1...3_600)),
            refreshesPerMinute: try Self.int(reader, Settings.gatewayRefreshes, in: 1...100_000),
            tinodeTokenLifetime: .seconds(try Self.int(reader, Settings.tinodeTokenLifetime, in: 60...31_536_000)),
            sendBurst: try Self.int(reader, Settings.gatewaySendBurst, in: 1...100_000),
            sendsPerSecond: sendsPerSecond,
            maxMessageBytes: try Self.int(reader, Settings.gatewayMaxMessageBytes, in: 1...100_000),
            maxReplay: try Self.int(reader, Settings.gatewayMaxReplay, in: 0...100_000),
            maxStreamsPerUser: try Self.int(reader, Settings.gatewayMaxStreamsPerUser, in: 1...10_000))
        trustedProxies = try Self.trustedProxies(reader, warnings: &warnings)
        if let url = reader.string(Settings.mongoURL) {
            guard url.hasPrefix("mongodb://") || url.hasPrefix("mongodb+srv://") else {
                throw ConfigurationError(setting: Settings.mongoURL.name, reason: "must start with mongodb:// or mongodb+srv://")
            }
            mongo = MongoSettings(
                url: url, database: reader.string(Settings.mongoDatabase) ?? Settings.mongoDatabase.defaultValue,
                timeout: .milliseconds(try Self.int(reader, Settings.mongoTimeout, in: 50...120_000)),
                poolSize: try Self.int(reader, Settings.mongoPoolSize, in: 1...256),
                fallbackToTinode: try Self.bool(reader, Settings.mongoFallback))
        } else {
            mongo = nil
        }
        let keepalive = try Self.int(reader, Settings.tinodeKeepalive, in: 0...86_400)
        if keepalive == 1 {
            // Tinode allows one client PING a second at most; timers jitter, and three PINGs that come
            // a little early end the connection (GOAWAY too_many_pings).
            throw ConfigurationError(setting: Settings.tinodeKeepalive.name, reason: "must be 0 (off) or at least 2 seconds")
        }
        let serviceLogin = reader.string(Settings.tinodeServiceLogin)
        let servicePassword = reader.string(Settings.tinodeServicePassword).map(SecretBytes.init)
        if (serviceLogin == nil) != (servicePassword == nil) {
            throw ConfigurationError(
                setting: Settings.tinodeServiceLogin.name, reason: "TINODE_SERVICE_LOGIN and TINODE_SERVICE_PASSWORD go together")
        }
        tinodeClient = TinodeClientSettings(
            requestTimeout: .milliseconds(try Self.int(reader, Settings.tinodeRequestTimeout, in: 100...120_000)),
            heartbeatInterval: .seconds(try Self.int(reader, Settings.tinodeHeartbeat, in: 1...3600)),
            keepalive: keepalive == 0 ? nil : .seconds(keepalive),
            connections: try Self.int(reader, Settings.tinodeConnections, in: 1...64),
            serviceLogin: serviceLogin,
            servicePassword: servicePassword,
            sessionIdleTimeout: .seconds(try Self.int(reader, Settings.gatewaySessionIdle, in: 1...86_400)),
            maximumSessions: try Self.int(reader, Settings.gatewayMaxSessions, in: 1...1_000_000),
            liveBufferSize: try Self.int(reader, Settings.gatewayLiveBuffer, in: 1...100_000))
        authPluginHTTPAddress = try Self.address(reader, Settings.authPluginHTTPAddress)
        authPluginGRPCAddress = try Self.address(reader, Settings.authPluginGRPCAddress)
        authPluginGRPCIdleTimeout = .seconds(try Self.int(reader, Settings.authPluginGRPCIdleTimeout, in: 1...86_400))
        authPluginGRPCMaxStreams = try Self.int(reader, Settings.authPluginGRPCMaxStreams, in: 1...10_000)
        authPluginGRPCMaxConnections = try Self.int(reader, Settings.authPluginGRPCMaxConnections, in: 1...100_000)
        authPluginGRPCMaxMessageBytes = try Self.int(reader, Settings.authPluginGRPCMaxMessageBytes, in: 65_536...67_108_864)
        gatewayHTTPAddress = try Self.address(reader, Settings.gatewayHTTPAddress)
        gatewayMetricsAddress = try Self.address(reader, Settings.gatewayMetricsAddress)
        httpRequestTimeout = .seconds(try Self.int(reader, Settings.httpRequestTimeout, in: 1...3600))
        httpIdleTimeout = .seconds(try Self.int(reader, Settings.httpIdleTimeout, in: 1...86_400))
        loginNameMaxLength = try Self.int(
            reader, Settings.loginNameMaxLength,
            in: (LoginNameMapper.suffixLength + 1)...LoginNameMapper.absoluteMaximumLength)
        let levelText = reader.string(Settings.logLevel) ?? Settings.logLevel.defaultValue
        guard let level = Logger.Level(rawValue: levelText.lowercased()) else {
            throw ConfigurationError(setting: Settings.logLevel.name, reason: "unknown level `\(levelText)`")
        }
        logLevel = level
        restAuth = try RESTAuthSettings(
            reader: reader,
            timeout: .milliseconds(try Self.int(reader, Settings.restAuthTimeout, in: 50...60_000)),
            maxBodyBytes: try Self.int(reader, Settings.restAuthMaxBody, in: 1024...10_485_760),
            allowNewAccounts: try Self.bool(reader, Settings.restAuthAllowNewAccounts))
        // Without an audience, a token your backend minted for any other service (same issuer, same
        // keys) would log its user in to Tinode too.
        if environment == .production, restAuth.external != nil, restAuth.external?.audience == nil {
            throw ConfigurationError(
                setting: Settings.externalAudience.name, reason: "is required in production when EXTERNAL_JWT_ISSUER is set")
        }
        plugin = try Self.pluginSettings(reader, environment: environment, warnings: &warnings)
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

    private static func pluginSettings(
        _ reader: SettingsReader, environment: DeploymentEnvironment, warnings: inout [String]
    ) throws -> PluginSettings {
        let attempts = try int(reader, Settings.pluginLoginAttempts, in: 0...1_000_000)
        let maxPub = try int(reader, Settings.pluginMaxPubBytes, in: 0...100_000_000)
        let exemptText = reader.string(Settings.pluginThrottleExempt) ?? Settings.pluginThrottleExempt.defaultValue
        guard let exempt = NetworkAllowList(parsing: exemptText) else {
            throw ConfigurationError(
                setting: Settings.pluginThrottleExempt.name, reason: "must be comma-separated CIDR blocks such as 172.16.0.0/12")
        }
        var webhooks: WebhookSettings?
        if let urlText = reader.string(Settings.pluginWebhookURLs) {
            guard let urls = WebhookSettings.parseURLs(urlText), !urls.isEmpty else {
                throw ConfigurationError(setting: Settings.pluginWebhookURLs.name, reason: "must be comma-separated http(s) URLs")
            }
            guard let secretText = reader.string(Settings.pluginWebhookSecret) else {
                throw ConfigurationError(setting: Settings.pluginWebhookSecret.name, reason: "is required when PLUGIN_WEBHOOK_URLS is set")
            }
            let secret = SecretBytes(secretText)
            if secret.bytes.count < minimumSecretBytes {
                if environment == .production {
                    throw ConfigurationError(
                        setting: Settings.pluginWebhookSecret.name,
                        reason: "is \(secret.bytes.count) bytes; production needs at least \(minimumSecretBytes)")
                }
                warnings.append(
                    "\(Settings.pluginWebhookSecret.name) is shorter than \(minimumSecretBytes) bytes; production would refuse it")
            }
            webhooks = WebhookSettings(
                urls: urls, secret: secret,
                queueSize: try int(reader, Settings.pluginWebhookQueueSize, in: 1...10_000_000),
                timeout: .milliseconds(try int(reader, Settings.pluginWebhookTimeout, in: 10...120_000)),
                maxAttempts: try int(reader, Settings.pluginWebhookAttempts, in: 1...100),
                initialBackoff: .milliseconds(try int(reader, Settings.pluginWebhookBackoff, in: 1...600_000)),
                maximumBackoff: .seconds(30),
                concurrency: try int(reader, Settings.pluginWebhookConcurrency, in: 1...256))
        }
        return PluginSettings(
            loginAttemptsPerMinute: attempts == 0 ? nil : attempts,
            throttleExempt: exempt,
            throttleTimeout: .milliseconds(try int(reader, Settings.pluginThrottleTimeout, in: 1...60_000)),
            maxPubBytes: maxPub == 0 ? nil : maxPub,
            canonicalLogins: try bool(reader, Settings.pluginCanonicalLogins),
            findEmails: try bool(reader, Settings.pluginFindEmails),
            webhooks: webhooks)
    }

    private static func secret(
        _ reader: SettingsReader, _ setting: Setting, environment: DeploymentEnvironment, required: Bool,
        warnings: inout [String]
    ) throws -> SecretBytes? {
        if let text = reader.string(setting) {
            let secret = SecretBytes(text)
            if secret.bytes.count >= minimumSecretBytes { return secret }
            if environment == .production {
                throw ConfigurationError(
                    setting: setting.name, reason: "is \(secret.bytes.count) bytes; production needs at least \(minimumSecretBytes)")
            }
            warnings.append("\(setting.name) is shorter than \(minimumSecretBytes) bytes; production would refuse it")
            return secret
        }
        guard required else { return nil }
        if environment == .production {
            throw ConfigurationError(
                setting: setting.name, reason: "is required in production (at least \(minimumSecretBytes) random bytes)")
        }
        warnings.append(
            "\(setting.name) is unset: generated a random one for this process; tokens will not survive a restart or verify in another process"
        )
        return SecretBytes.random()
    }

    private static func bool(_ reader: SettingsReader, _ setting: Setting) throws -> Bool {
        let text = (reader.string(setting) ?? setting.defaultValue).lowercased()
        switch text {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default: throw ConfigurationError(setting: setting.name, reason: "must be true or false, not `\(text)`")
        }
    }

    private static func int(_ reader: SettingsReader, _ setting: Setting, in range: ClosedRange<Int>) throws -> Int {
        let text = reader.string(setting) ?? setting.defaultValue
        guard let value = Int(text), range.contains(value) else {
            throw ConfigurationError(
                setting: setting.name, reason: "must be a whole number in \(range.lowerBound)...\(range.upperBound), not `\(text)`")
        }
        return value
    }

    private static func address(_ reader: SettingsReader, _ setting: Setting) throws -> NetworkAddress {
        let text = reader.string(setting) ?? setting.defaultValue
        guard let address = NetworkAddress(parsing: text) else {
            throw ConfigurationError(setting: setting.name, reason: "must be host:port (IPv6 in brackets), not `\(text)`")
        }
        return address
    }
}

/// How the Gateway talks to Tinode: request timeout, heartbeat, keepalive, the session pool, and
/// the service account that looks after the chat room.
public struct TinodeClientSettings: Sendable {
    public var requestTimeout: Duration
    public var heartbeatInterval: Duration
    /// gRPC keepalive interval; nil = off (Tinode's default drops clients that ping under 5 minutes).
    public var keepalive: Duration?
    public var connections: Int
    public var serviceLogin: String?
    public var servicePassword: SecretBytes?
    public var sessionIdleTimeout: Duration
    public var maximumSessions: Int
    public var liveBufferSize: Int
}

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

/// The Gateway API's rate and size limits.
public struct GatewayLimits: Sendable {
    public var authAttemptsPerMinute: Int
    /// Password tries per account per hour, from all clients together.
    public var loginAttemptsPerAccountPerHour: Int
    /// Whether register proves the address through Tinode's e-mail validator.
    public var emailVerification: EmailVerificationMode
    /// Codes tried per address, and per client address, per hour.
    public var verifyAttemptsPerHour: Int
    /// New codes requested per address per hour.
    public var verifyResendsPerHour: Int
    /// Logins a user keeps; the oldest is revoked beyond it.
    public var maximumLoginsPerUser: Int
    /// How long a refreshed-away access token keeps working.
    public var refreshGrace: Duration
    /// How long a refresh token just replaced still answers the same new pair (a client's retry).
    public var refreshRetryWindow: Duration
    /// How often a live stream checks its access token again.
    public var streamRecheckInterval: Duration
    /// Refreshes per login per minute (five times as many per user).
    public var refreshesPerMinute: Int
    /// Tinode's `auth_config.token.expire_in` (issue time = expiry minus this).
    public var tinodeTokenLifetime: Duration
    public var sendBurst: Int
    public var sendsPerSecond: Double
    /// Below Tinode's 128 KiB message limit, which ends the whole stream when exceeded.
    public var maxMessageBytes: Int
    /// Most messages replayed to a resuming live client (more: a `reset`, then the newest this many).
    public var maxReplay: Int
    /// Live streams (SSE and WebSocket) one user may hold open on one instance.
    public var maxStreamsPerUser: Int
}

/// `GATEWAY_EMAIL_VERIFICATION`.
public enum EmailVerificationMode: String, Sendable {
    /// Tinode mails a code; an account gets tokens only once the code came back.
    case required
    /// Addresses are taken as given (development): never treated as proven.
    case off
}

/// What the token issuer and verifier need.
public struct JWTSettings: Sendable {
    /// HS256 key of access tokens; nil when `JWT_SIGNING_KEYS` provides the keys.
    public var accessSecret: SecretBytes?
    public var previousAccessSecret: SecretBytes?
    public var refreshSecret: SecretBytes
    public var signingKeysJSON: String?
    public var issuer: String
    public var audience: String
    public var accessTTL: Duration
    public var refreshTTL: Duration
    public var leeway: Duration

    public init(
        accessSecret: SecretBytes?, previousAccessSecret: SecretBytes?, refreshSecret: SecretBytes, signingKeysJSON: String?,
        issuer: String, audience: String, accessTTL: Duration, refreshTTL: Duration, leeway: Duration
    ) {
        self.accessSecret = accessSecret
        self.previousAccessSecret = previousAccessSecret
        self.refreshSecret = refreshSecret
        self.signingKeysJSON = signingKeysJSON
        self.issuer = issuer
        self.audience = audience
        self.accessTTL = accessTTL
        self.refreshTTL = refreshTTL
        self.leeway = leeway
    }
}

/// Where the Valkey server is and how to talk to it.
public struct ValkeySettings: Sendable {
    /// `redis://...`; may hold a password, so never log it as is (see `maskedURL`).
    public var url: String
    public var password: SecretBytes?
    public var poolSize: Int
    /// Values `ValkeyClient.cachedGet` keeps in memory; 0: no client-side caching.
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

/// AuthPlugin's REST-auth server: where it answers, how long it may take, whom it trusts.
public struct RESTAuthSettings: Sendable {
    /// `""` or a path such as `/tinode` (no trailing slash).
    public var pathPrefix: String
    public var timeout: Duration
    public var maxBodyBytes: Int
    public var allowNewAccounts: Bool
    public var restrictedNamespaces: [String]
    public var allowedNetworks: NetworkAllowList
    /// Set when your own backend's JWTs (identified by `(iss, sub)`) may log users in.
    public var external: ExternalJWTSettings?

    /// An absolute `https://` or `http://` URL with a host; anything else is refused at start.
    static func jwksURL(_ text: String) throws -> URL {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "https" || scheme == "http",
            let host = url.host, !host.isEmpty
        else {
            throw ConfigurationError(setting: Settings.externalJWKSURL.name, reason: "must be an absolute https:// URL, not `\(text)`")
        }
        return url
    }

    init(reader: SettingsReader, timeout: Duration, maxBodyBytes: Int, allowNewAccounts: Bool) throws {
        var prefix = reader.string(Settings.restAuthPathPrefix) ?? ""
        while prefix.hasSuffix("/") { prefix.removeLast() }
        if !prefix.isEmpty, !prefix.hasPrefix("/") { prefix = "/" + prefix }
        guard prefix.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "/-_.".contains($0)) }) else {
            throw ConfigurationError(setting: Settings.restAuthPathPrefix.name, reason: "must be a plain URL path such as /tinode")
        }
        pathPrefix = prefix
        self.timeout = timeout
        self.maxBodyBytes = maxBodyBytes
        self.allowNewAccounts = allowNewAccounts
        let namespaces = (reader.string(Settings.restAuthNamespaces) ?? Settings.restAuthNamespaces.defaultValue)
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty }
        // Tinode exits at boot when a namespace contains ':' (tinode-protocol.md 1.5).
        guard namespaces.allSatisfy({ !$0.contains(":") && !$0.contains(" ") }) else {
            throw ConfigurationError(setting: Settings.restAuthNamespaces.name, reason: "namespaces may not contain ':' or spaces")
        }
        restrictedNamespaces = namespaces
        let networks = reader.string(Settings.authPluginAllowedNetworks) ?? Settings.authPluginAllowedNetworks.defaultValue
        guard let allowList = NetworkAllowList(parsing: networks), !allowList.blocks.isEmpty else {
            throw ConfigurationError(
                setting: Settings.authPluginAllowedNetworks.name, reason: "must be comma-separated CIDR blocks such as 10.0.0.0/8")
        }
        allowedNetworks = allowList
        if let issuer = reader.string(Settings.externalIssuer) {
            let keys = reader.string(Settings.externalKeys)
            let jwksURL = try reader.string(Settings.externalJWKSURL).map(Self.jwksURL)
            guard keys != nil || jwksURL != nil else {
                throw ConfigurationError(
                    setting: Settings.externalKeys.name, reason: "or EXTERNAL_JWT_JWKS_URL is required when EXTERNAL_JWT_ISSUER is set")
            }
            let refreshText = reader.string(Settings.externalJWKSRefresh) ?? Settings.externalJWKSRefresh.defaultValue
            guard let refresh = Int(refreshText), (30...86_400).contains(refresh) else {
                throw ConfigurationError(
                    setting: Settings.externalJWKSRefresh.name, reason: "must be a whole number in 30...86400, not `\(refreshText)`")
            }
            let lifetimeText = reader.string(Settings.externalMaxLifetime) ?? Settings.externalMaxLifetime.defaultValue
            guard let lifetime = Int(lifetimeText), (60...31_536_000).contains(lifetime) else {
                throw ConfigurationError(
                    setting: Settings.externalMaxLifetime.name, reason: "must be a whole number in 60...31536000, not `\(lifetimeText)`")
            }
            external = ExternalJWTSettings(
                issuer: issuer, audience: reader.string(Settings.externalAudience), keysJSON: keys, jwksURL: jwksURL,
                jwksRefreshInterval: .seconds(refresh),
                emailVerifiedClaim: reader.string(Settings.externalEmailVerifiedClaim) ?? Settings.externalEmailVerifiedClaim.defaultValue,
                maxLifetime: .seconds(lifetime))
        } else {
            external = nil
        }
    }
}

/// How to recognise JWTs minted by a self-hoster's own backend.
public struct ExternalJWTSettings: Sendable {
    public var issuer: String
    public var audience: String?
    /// Keys in the `JWT_SIGNING_KEYS` format; at least one of this and `jwksURL` is set.
    public var keysJSON: String?
    /// Where the issuer publishes its keys.
    public var jwksURL: URL?
    public var jwksRefreshInterval: Duration
    /// The claim whose JSON `true` (or string `"true"`) says the token's `email` is verified.
    public var emailVerifiedClaim: String
    /// Longest lifetime of an accepted token (`exp - iat`, or `exp - now` without `iat`).
    public var maxLifetime: Duration

    public init(
        issuer: String, audience: String?, keysJSON: String?, jwksURL: URL? = nil, jwksRefreshInterval: Duration = .seconds(300),
        emailVerifiedClaim: String = "email_verified", maxLifetime: Duration = .seconds(86_400)
    ) {
        self.issuer = issuer
        self.audience = audience
        self.keysJSON = keysJSON
        self.jwksURL = jwksURL
        self.jwksRefreshInterval = jwksRefreshInterval
        self.emailVerifiedClaim = emailVerifiedClaim
        self.maxLifetime = maxLifetime
    }
}
