import Foundation

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

extension JWTSettings {
    /// The keys, issuer, audience and lifetimes of the sidecar's own tokens. Secrets missing in
    /// development are generated (with a warning); only the Gateway needs `REFRESH_SECRET`.
    init(reader: SettingsReader, environment: DeploymentEnvironment, warnings: inout [String]) throws {
        let signingKeysJSON = reader.string(Settings.signingKeys)
        let accessSecret = try reader.secret(
            Settings.accessSecret, environment: environment, required: signingKeysJSON == nil, warnings: &warnings)
        let refreshSecret = try reader.secret(
            Settings.refreshSecret, environment: environment, required: reader.program.contains(.gateway), warnings: &warnings)
        let previousAccessSecret = try reader.string(Settings.previousAccessSecret).map { text in
            let secret = SecretBytes(text)
            guard secret.bytes.count >= SecretBytes.minimumCount else {
                throw ConfigurationError(
                    setting: Settings.previousAccessSecret.name, reason: "must be at least \(SecretBytes.minimumCount) bytes")
            }
            return secret
        }
        self.init(
            accessSecret: accessSecret,
            previousAccessSecret: previousAccessSecret,
            refreshSecret: refreshSecret ?? SecretBytes.random(),
            signingKeysJSON: signingKeysJSON,
            issuer: reader.string(Settings.issuer) ?? Settings.issuer.defaultValue,
            audience: reader.string(Settings.audience) ?? Settings.audience.defaultValue,
            accessTTL: .seconds(try reader.int(Settings.accessTTL, in: 10...86_400)),
            refreshTTL: .seconds(try reader.int(Settings.refreshTTL, in: 60...31_536_000)),
            leeway: .seconds(try reader.int(Settings.clockSkew, in: 0...300)))
    }
}
