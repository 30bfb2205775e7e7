import Foundation

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

extension GatewayLimits {
    /// The Gateway API's `GATEWAY_*` limits and the token lifetime both programs share.
    init(reader: SettingsReader, environment: DeploymentEnvironment, warnings: inout [String]) throws {
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
        self.init(
            authAttemptsPerMinute: try reader.int(Settings.gatewayAuthAttempts, in: 1...1_000_000),
            loginAttemptsPerAccountPerHour: try reader.int(Settings.gatewayLoginAttemptsPerAccount, in: 1...1_000_000),
            emailVerification: verification,
            verifyAttemptsPerHour: try reader.int(Settings.gatewayVerifyAttempts, in: 1...1_000_000),
            verifyResendsPerHour: try reader.int(Settings.gatewayVerifyResends, in: 1...1_000_000),
            maximumLoginsPerUser: try reader.int(Settings.gatewayMaxLogins, in: 1...100_000),
            refreshGrace: .seconds(try reader.int(Settings.gatewayRefreshGrace, in: 0...3_600)),
            refreshRetryWindow: .seconds(try reader.int(Settings.gatewayRefreshRetry, in: 0...60)),
            streamRecheckInterval: .seconds(try reader.int(Settings.gatewayStreamRecheck, in: 1...3_600)),
            refreshesPerMinute: try reader.int(Settings.gatewayRefreshes, in: 1...100_000),
            tinodeTokenLifetime: .seconds(try reader.int(Settings.tinodeTokenLifetime, in: 60...31_536_000)),
            sendBurst: try reader.int(Settings.gatewaySendBurst, in: 1...100_000),
            sendsPerSecond: sendsPerSecond,
            maxMessageBytes: try reader.int(Settings.gatewayMaxMessageBytes, in: 1...100_000),
            maxReplay: try reader.int(Settings.gatewayMaxReplay, in: 0...100_000),
            maxStreamsPerUser: try reader.int(Settings.gatewayMaxStreamsPerUser, in: 1...10_000))
    }
}
