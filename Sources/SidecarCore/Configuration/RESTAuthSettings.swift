import Foundation

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

    /// `REST_AUTH_*`, `AUTHPLUGIN_ALLOWED_NETWORKS` and `EXTERNAL_JWT_*`.
    init(reader: SettingsReader, environment: DeploymentEnvironment) throws {
        let timeout = Duration.milliseconds(try reader.int(Settings.restAuthTimeout, in: 50...60_000))
        let maxBodyBytes = try reader.int(Settings.restAuthMaxBody, in: 1024...10_485_760)
        let allowNewAccounts = try reader.bool(Settings.restAuthAllowNewAccounts)
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
        // Without an audience, a token your backend minted for any other service (same issuer, same
        // keys) would log its user in to Tinode too.
        if environment == .production, external != nil, external?.audience == nil {
            throw ConfigurationError(
                setting: Settings.externalAudience.name, reason: "is required in production when EXTERNAL_JWT_ISSUER is set")
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
