import Configuration
import Foundation

/// One setting: its external name (environment variable, config-file key and secret-file name
/// alike), its default and what it means. `Settings.all` is the configuration reference; the
/// README's table is checked against it by a test.
public struct Setting: Sendable, Hashable {
    /// The external name, e.g. `ACCESS_SECRET`.
    public let name: String
    /// The default, as a user would write it; empty when there is none.
    public let defaultValue: String
    /// One line on what it does.
    public let meaning: String
    /// Secrets are masked in logs and in `ConfigReader` access reports.
    public let isSecret: Bool
    /// The programs that read it; the others never look at it (it cannot stop them from starting).
    public let readBy: Programs

    /// The scoped key whose environment encoding is `name` (`ACCESS_SECRET` -> `access.secret`).
    public var key: ConfigKey { ConfigKey(name.lowercased().split(separator: "_").map(String.init)) }

    init(_ name: String, for readBy: Programs, default defaultValue: String = "", secret: Bool = false, _ meaning: String) {
        self.name = name
        self.readBy = readBy
        self.defaultValue = defaultValue
        self.meaning = meaning
        self.isSecret = secret
    }
}

/// The two programs, as a set: which of them read a setting.
public struct Programs: OptionSet, Sendable, Hashable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    public static let gateway = Programs(rawValue: 1)
    public static let authPlugin = Programs(rawValue: 2)
    public static let both: Programs = [.gateway, .authPlugin]

    /// As the README's configuration table writes it.
    public var readmeName: String {
        switch self {
        case .gateway: "Gateway"
        case .authPlugin: "AuthPlugin"
        default: "both"
        }
    }
}

/// Every setting the programs read.
public enum Settings {
    public static let environment = Setting(
        "ENV", for: .both, default: "development",
        "`development` or `production`. Production refuses to start without strong secrets.")
    public static let ssl = Setting(
        "SSL", for: .gateway, default: "false", "Serve the Gateway over HTTPS (needs SSL_CERT_FILE and SSL_KEY_FILE).")
    public static let sslCertificateFile = Setting(
        "SSL_CERT_FILE", for: .gateway, "PEM certificate chain for SSL=true.")
    public static let sslKeyFile = Setting("SSL_KEY_FILE", for: .gateway, "PEM private key for SSL=true.")
    public static let accessSecret = Setting(
        "ACCESS_SECRET", for: .both, secret: true,
        "HS256 key of access JWTs, at least 32 bytes. Generated at start in development when unset.")
    public static let previousAccessSecret = Setting(
        "ACCESS_SECRET_PREVIOUS", for: .both, secret: true,
        "An older ACCESS_SECRET still accepted for verification while tokens signed with it expire.")
    public static let refreshSecret = Setting(
        "REFRESH_SECRET", for: .gateway, secret: true,
        "HS256 key of refresh JWTs, at least 32 bytes. Generated at start in development when unset.")
    public static let signingKeys = Setting(
        "JWT_SIGNING_KEYS", for: .both, secret: true,
        "JSON array of access-token keys `{kid, alg (HS256/ES256/EdDSA), private_key | public_key}`; the first with a private key signs.")
    public static let issuer = Setting(
        "JWT_ISSUER", for: .both, default: "tinode-sidecar", "`iss` of issued tokens, required on verification.")
    public static let audience = Setting(
        "JWT_AUDIENCE", for: .both, default: "tinode-sidecar", "`aud` of issued tokens, required on verification.")
    public static let accessTTL = Setting("JWT_ACCESS_TTL", for: .gateway, default: "900", "Access-token lifetime in seconds.")
    public static let refreshTTL = Setting(
        "JWT_REFRESH_TTL", for: .gateway, default: "2592000", "Refresh-token lifetime in seconds (30 days).")
    public static let clockSkew = Setting("JWT_LEEWAY", for: .both, default: "5", "Seconds of clock skew tolerated for `exp` and `nbf`.")
    public static let redisPassword = Setting(
        "REDIS_PASS", for: .both, secret: true, "Valkey password (sent with AUTH); a password in VALKEY_URL wins.")
    public static let valkeyURL = Setting(
        "VALKEY_URL", for: .both, secret: true,
        "`redis://[user:pass@]host:port[/db]`. Unset: the embedded in-memory store (development only; nothing survives a restart).")
    public static let valkeyPoolSize = Setting("VALKEY_POOL_SIZE", for: .both, default: "8", "Valkey connections per process.")
    public static let valkeyCacheEntries = Setting(
        "VALKEY_CACHE_ENTRIES", for: .both, default: "100000",
        "Token records kept in memory, dropped when Valkey reports a change (client-side caching); 0 turns it off.")
    public static let valkeyConnectTimeout = Setting(
        "VALKEY_CONNECT_TIMEOUT_MS", for: .both, default: "2000", "Valkey connect timeout in milliseconds.")
    public static let valkeyCommandTimeout = Setting(
        "VALKEY_COMMAND_TIMEOUT_MS", for: .both, default: "2000", "Valkey command timeout in milliseconds.")
    public static let tinodeTopicID = Setting(
        "TINODE_TOPIC_ID", for: .gateway, "The chat room (`grp...`). Unset: the Gateway finds or creates the room tagged `room:general`.")
    public static let tinodeGRPCAddress = Setting(
        "TINODE_GRPC_ADDR", for: .gateway, default: "127.0.0.1:16060", "Tinode's gRPC listener (`grpc_listen`).")
    public static let tinodeRequestTimeout = Setting(
        "TINODE_REQUEST_TIMEOUT_MS", for: .gateway, default: "5000", "How long the Gateway waits for Tinode's reply to one request.")
    public static let tinodeHeartbeat = Setting(
        "TINODE_HEARTBEAT_SECONDS", for: .gateway, default: "30",
        "A user's stream silent this long is probed (`hi`); half-dead and dead streams are then reconnected.")
    public static let tinodeKeepalive = Setting(
        "TINODE_GRPC_KEEPALIVE_SECONDS", for: .gateway, default: "0",
        "gRPC keepalive ping interval; 0 = off, else at least 2. Only with Tinode's `grpc_keepalive_enabled` (else it drops pings under 5 min)."
    )
    public static let tinodeConnections = Setting(
        "TINODE_GRPC_CONNECTIONS", for: .gateway, default: "2", "HTTP/2 connections to Tinode that carry the users' streams.")
    public static let tinodeServiceLogin = Setting(
        "TINODE_SERVICE_LOGIN", for: .gateway,
        "Basic login of the account that finds or creates the chat room when TINODE_TOPIC_ID is unset.")
    public static let tinodeServicePassword = Setting(
        "TINODE_SERVICE_PASSWORD", for: .gateway, secret: true, "Password of TINODE_SERVICE_LOGIN.")
    public static let gatewaySessionIdle = Setting(
        "GATEWAY_SESSION_IDLE_SECONDS", for: .gateway, default: "300",
        "A user's Tinode session with no request and no live client this long is closed.")
    public static let gatewayMaxSessions = Setting(
        "GATEWAY_MAX_SESSIONS", for: .gateway, default: "10000",
        "Most Tinode sessions at once; beyond it the least recently used is closed.")
    public static let gatewayLiveBuffer = Setting(
        "GATEWAY_LIVE_BUFFER", for: .gateway, default: "256", "Events a live client (SSE, WebSocket) may fall behind before it is cut off.")
    public static let gatewayMaxReplay = Setting(
        "GATEWAY_MAX_REPLAY", for: .gateway, default: "1000",
        "Most messages a resuming live client (Last-Event-ID, last_event_id) is sent from history; beyond it the stream starts with a reset event and the newest this many."
    )
    public static let gatewayMaxStreamsPerUser = Setting(
        "GATEWAY_MAX_STREAMS_PER_USER", for: .gateway, default: "8",
        "Live streams (SSE and WebSocket together) one user may hold open on one Gateway instance; beyond it 429 too_many_streams.")
    public static let gatewayAuthAttempts = Setting(
        "GATEWAY_AUTH_ATTEMPTS_PER_MINUTE", for: .gateway, default: "20",
        "Register, login, verify, resend and external-exchange attempts per client (an IPv4 address, an IPv6 /64; see TRUSTED_PROXIES) per minute, together (429 beyond)."
    )
    public static let gatewayLoginAttemptsPerAccount = Setting(
        "GATEWAY_LOGIN_ATTEMPTS_PER_ACCOUNT_PER_HOUR", for: .gateway, default: "30",
        "Password tries (login, verify, resend) per account per hour from all clients together (429 beyond), so that one address cannot be guessed from many clients."
    )
    public static let trustedProxies = Setting(
        "TRUSTED_PROXIES", for: .gateway,
        "Comma-separated CIDR blocks of the reverse proxies in front of the Gateway: only from these are X-Forwarded-For and Forwarded read to find the client (the rate limits' key). Unset: the socket's peer is the client."
    )
    public static let gatewayEmailVerification = Setting(
        "GATEWAY_EMAIL_VERIFICATION", for: .gateway,
        "`required` or `off`; unset: `required` in production, `off` in development. `required`: register answers 202 and Tinode mails a code; the account gets tokens only after POST /v1/auth/verify (Tinode's acc_validation.email must be configured with required [\"auth\"])."
    )
    public static let gatewayVerifyAttempts = Setting(
        "GATEWAY_VERIFY_ATTEMPTS_PER_HOUR", for: .gateway, default: "10",
        "Verification codes tried per address per hour (429 beyond); each client's tries also count against GATEWAY_AUTH_ATTEMPTS_PER_MINUTE."
    )
    public static let gatewayVerifyResends = Setting(
        "GATEWAY_VERIFY_RESENDS_PER_HOUR", for: .gateway, default: "5",
        "New verification codes requested per address per hour, counted only for callers with the right password (each sends a mail; 429 beyond)."
    )
    public static let gatewayMaxLogins = Setting(
        "GATEWAY_MAX_LOGINS_PER_USER", for: .both, default: "100",
        "Logins (refresh families) a user keeps at once; a new one beyond it revokes the oldest.")
    public static let gatewayRefreshGrace = Setting(
        "GATEWAY_REFRESH_GRACE_SECONDS", for: .gateway, default: "10",
        "How long the access token a refresh replaces keeps working, for requests already under way.")
    public static let gatewayRefreshRetry = Setting(
        "GATEWAY_REFRESH_RETRY_SECONDS", for: .gateway, default: "5",
        "For this long after a refresh, presenting the same refresh token again answers the same new pair (a retry after a lost answer) instead of counting as reuse; 0 turns it off."
    )
    public static let gatewayStreamRecheck = Setting(
        "GATEWAY_STREAM_RECHECK_SECONDS", for: .gateway, default: "30",
        "How often a live stream checks that its access token still works, beside the revocation notices every instance receives; a stream whose token was refreshed away, revoked or expired ends."
    )
    public static let gatewayRefreshes = Setting(
        "GATEWAY_REFRESHES_PER_MINUTE", for: .gateway, default: "10",
        "Refreshes per login per minute (a user's logins together: five times as many); 429 beyond.")
    public static let tinodeTokenLifetime = Setting(
        "TINODE_TOKEN_LIFETIME_SECONDS", for: .both, default: "86400",
        "Tinode's auth_config.token.expire_in (the shipped tinode.conf's one day): a Tinode token's issue time is its expiry minus this, so that AuthPlugin refuses tokens issued before a user's logout-all; the Gateway renews a user's Tinode token at refresh once less than half of it is left."
    )
    public static let gatewaySendBurst = Setting(
        "GATEWAY_SEND_BURST", for: .gateway, default: "30", "Messages a user may send at once before the per-second rate applies.")
    public static let gatewaySendsPerSecond = Setting(
        "GATEWAY_SENDS_PER_SECOND", for: .gateway, default: "5", "Messages per user per second, sustained (429 beyond).")
    public static let gatewayMaxMessageBytes = Setting(
        "GATEWAY_MAX_MESSAGE_BYTES", for: .gateway, default: "16384",
        "Longest message text or Drafty content, in bytes as sent to Tinode (JSON-encoded, escapes included; 413 beyond).")
    public static let mongoURL = Setting(
        "MONGO_URL", for: .gateway, secret: true,
        "Tinode's MongoDB, read-only (`mongodb://reader:pw@host1,host2/?replicaSet=rs0`): history and `/v1/users` from the store. Unset: history through Tinode's protocol."
    )
    public static let mongoDatabase = Setting(
        "MONGO_DATABASE", for: .gateway, default: "tinode", "Tinode's database (its `adapters.mongodb.database`).")
    public static let mongoTimeout = Setting(
        "MONGO_TIMEOUT_MS", for: .gateway, default: "2000",
        "Deadline of one request's MongoDB reads (503 beyond); also libmongoc's server-selection, connect and socket timeouts unless MONGO_URL sets them."
    )
    public static let mongoPoolSize = Setting(
        "MONGO_POOL_SIZE", for: .gateway, default: "4", "Threads that run libmongoc's blocking calls, one pooled client each.")
    public static let mongoFallback = Setting(
        "MONGO_FALLBACK", for: .gateway, default: "false",
        "`true`: when MongoDB fails, history is read through Tinode's protocol instead of answering 503 (logged and counted).")
    public static let authPluginHTTPAddress = Setting(
        "AUTHPLUGIN_HTTP_ADDR", for: .authPlugin, default: "127.0.0.1:5000", "Where AuthPlugin serves REST-auth, /healthz and /metrics.")
    public static let authPluginGRPCAddress = Setting(
        "AUTHPLUGIN_GRPC_ADDR", for: .authPlugin, default: "127.0.0.1:40051", "Where AuthPlugin serves Tinode's pbx.Plugin gRPC service.")
    public static let authPluginGRPCIdleTimeout = Setting(
        "AUTHPLUGIN_GRPC_IDLE_TIMEOUT_SECONDS", for: .authPlugin, default: "300",
        "The pbx.Plugin port closes a connection with no call in progress after this many seconds (HTTP/2 GOAWAY; Tinode dials again for its next call); also the longest a call without grpc-timeout may take."
    )
    public static let authPluginGRPCMaxStreams = Setting(
        "AUTHPLUGIN_GRPC_MAX_STREAMS", for: .authPlugin, default: "100",
        "Calls in progress on one pbx.Plugin connection (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS; streams beyond it are refused).")
    public static let authPluginGRPCMaxConnections = Setting(
        "AUTHPLUGIN_GRPC_MAX_CONNECTIONS", for: .authPlugin, default: "256",
        "Open connections on the pbx.Plugin port; one more is closed at once. Peers outside AUTHPLUGIN_ALLOWED_NETWORKS get a sixteenth of them."
    )
    public static let authPluginGRPCMaxMessageBytes = Setting(
        "AUTHPLUGIN_GRPC_MAX_MESSAGE_BYTES", for: .authPlugin, default: "2097152",
        "Largest pbx.Plugin request message (RESOURCE_EXHAUSTED beyond). Keep it above 8 x Tinode's max_message_size: a FireHose refused for size fails open."
    )
    public static let gatewayHTTPAddress = Setting(
        "GATEWAY_HTTP_ADDR", for: .gateway, default: "127.0.0.1:8080", "Where the Gateway serves its HTTP API.")
    public static let gatewayMetricsAddress = Setting(
        "GATEWAY_METRICS_ADDR", for: .gateway, default: "127.0.0.1:9464",
        "Where the Gateway serves /metrics (Prometheus), apart from its API; keep it off public networks.")
    public static let httpRequestTimeout = Setting(
        "HTTP_REQUEST_TIMEOUT_SECONDS", for: .both, default: "10",
        "Both HTTP servers: a client must send a whole request, headers and body, within this many seconds of its first byte, or the connection is closed."
    )
    public static let httpIdleTimeout = Setting(
        "HTTP_IDLE_TIMEOUT_SECONDS", for: .both, default: "60",
        "Both HTTP servers: a connection with no request in progress is closed after this many seconds.")
    public static let loginNameMaxLength = Setting(
        "LOGIN_NAME_MAX_LENGTH", for: .both, default: "26", "Longest login name generated, 13 to 32 (26 fits every Tinode store adapter).")
    public static let logLevel = Setting(
        "LOG_LEVEL", for: .both, default: "info", "trace, debug, info, notice, warning, error or critical.")
    public static let restAuthPathPrefix = Setting(
        "REST_AUTH_PATH_PREFIX", for: .authPlugin,
        "Path under which REST-auth is also served (`/tinode` answers `POST /tinode` and `POST /tinode/<endpoint>`).")
    public static let restAuthTimeout = Setting(
        "REST_AUTH_TIMEOUT_MS", for: .authPlugin, default: "2000",
        "Deadline of one REST-auth request; past it the answer is `{\"err\":\"internal\"}`.")
    public static let restAuthMaxBody = Setting(
        "REST_AUTH_MAX_BODY_BYTES", for: .authPlugin, default: "65536", "Largest REST-auth request body accepted (larger: HTTP 413).")
    public static let restAuthAllowNewAccounts = Setting(
        "REST_AUTH_ALLOW_NEW_ACCOUNTS", for: .authPlugin, default: "true",
        "Answer unknown external users with `newacc` (Tinode creates the account).")
    public static let restAuthNamespaces = Setting(
        "REST_AUTH_RESTRICTED_NAMESPACES", for: .authPlugin, default: "rest", "Comma-separated tag namespaces answered to `rtagns`.")
    public static let authPluginAllowedNetworks = Setting(
        "AUTHPLUGIN_ALLOWED_NETWORKS", for: .authPlugin, default: "127.0.0.0/8,::1/128",
        "Comma-separated CIDR blocks allowed to call AuthPlugin (add the container network).")
    public static let pluginLoginAttempts = Setting(
        "PLUGIN_LOGIN_ATTEMPTS_PER_MINUTE", for: .authPlugin, default: "20",
        "FireHose: `{login}` and `{acc}` attempts per client address per minute (ctrl 429 beyond); 0 = off.")
    public static let pluginThrottleExempt = Setting(
        "PLUGIN_THROTTLE_EXEMPT_NETWORKS", for: .authPlugin, default: "127.0.0.0/8,::1/128",
        "Comma-separated CIDR blocks whose clients FireHose never throttles (the Gateway's address: it limits its own callers).")
    public static let pluginThrottleTimeout = Setting(
        "PLUGIN_THROTTLE_TIMEOUT_MS", for: .authPlugin, default: "250",
        "FireHose: how long the login throttle waits for Valkey before letting the message through.")
    public static let pluginMaxPubBytes = Setting(
        "PLUGIN_MAX_PUB_BYTES", for: .authPlugin, default: "65536", "FireHose: a `{pub}` whose content is larger gets ctrl 413; 0 = off.")
    public static let pluginCanonicalLogins = Setting(
        "PLUGIN_CANONICAL_LOGINS", for: .authPlugin, default: "true",
        "FireHose: refuse (ctrl 422) a new `basic` account whose login is not the mapped form of its `email` credential.")
    public static let pluginFindEmails = Setting(
        "PLUGIN_FIND_EMAILS", for: .authPlugin, default: "true",
        "Find: rewrite proven e-mail addresses in searches into their `email:` tag; unproven ones stay as written.")
    public static let pluginWebhookURLs = Setting(
        "PLUGIN_WEBHOOK_URLS", for: .authPlugin,
        "Comma-separated http(s) URLs that receive every plugin event as a signed JSON POST; unset = none.")
    public static let pluginWebhookSecret = Setting(
        "PLUGIN_WEBHOOK_SECRET", for: .authPlugin, secret: true,
        "HMAC-SHA256 key of the `X-Signature` header; required with PLUGIN_WEBHOOK_URLS (at least 32 bytes in production).")
    public static let pluginWebhookQueueSize = Setting(
        "PLUGIN_WEBHOOK_QUEUE_SIZE", for: .authPlugin, default: "10000",
        "Deliveries waiting at most; when full the oldest is dropped and counted.")
    public static let pluginWebhookTimeout = Setting(
        "PLUGIN_WEBHOOK_TIMEOUT_MS", for: .authPlugin, default: "5000", "Deadline of one webhook POST, connection included.")
    public static let pluginWebhookAttempts = Setting(
        "PLUGIN_WEBHOOK_MAX_ATTEMPTS", for: .authPlugin, default: "6",
        "Attempts per delivery (network errors, 408, 429 and 5xx are retried).")
    public static let pluginWebhookBackoff = Setting(
        "PLUGIN_WEBHOOK_BACKOFF_MS", for: .authPlugin, default: "500",
        "Wait before the first retry; doubles each time, at most 30 s, with jitter.")
    public static let pluginWebhookConcurrency = Setting(
        "PLUGIN_WEBHOOK_CONCURRENCY", for: .authPlugin, default: "4", "Webhook POSTs in flight at once.")
    public static let externalIssuer = Setting(
        "EXTERNAL_JWT_ISSUER", for: .both, "`iss` of your own backend's JWTs; such tokens identify users by `(iss, sub)`.")
    public static let externalAudience = Setting(
        "EXTERNAL_JWT_AUDIENCE", for: .both,
        "`aud` required in external JWTs (unset: not checked; required in production with EXTERNAL_JWT_ISSUER).")
    public static let externalEmailVerifiedClaim = Setting(
        "EXTERNAL_JWT_EMAIL_VERIFIED_CLAIM", for: .both, default: "email_verified",
        "Claim that says the token's `email` is verified (JSON `true` or the string `\"true\"`); only such addresses link to or prove accounts."
    )
    public static let externalMaxLifetime = Setting(
        "EXTERNAL_JWT_MAX_LIFETIME_SECONDS", for: .both, default: "86400",
        "Longest accepted external JWT lifetime, `exp - iat` (or `exp - now` without `iat`).")
    public static let externalKeys = Setting(
        "EXTERNAL_JWT_KEYS", for: .both, secret: true,
        "Keys of external JWTs, in the JWT_SIGNING_KEYS format (`public_key` or `secret`; RS256 public keys too).")
    public static let externalJWKSURL = Setting(
        "EXTERNAL_JWT_JWKS_URL", for: .both,
        "Your issuer's JSON Web Key Set (`https://...`; `http://` only for a trusted network); RS256, ES256 and EdDSA keys.")
    public static let externalJWKSRefresh = Setting(
        "EXTERNAL_JWT_JWKS_REFRESH_SECONDS", for: .both, default: "300",
        "Age after which the JWKS is fetched again; a token with an unknown `kid` fetches it at once (at most every 30 s).")
    public static let configFile = Setting(
        ConfigurationSources.configFileVariable, for: .both,
        "Optional JSON file of settings (`{\"NAME\": value}`); environment variables win over it.")
    public static let secretsDirectory = Setting(
        ConfigurationSources.secretsDirectoryVariable, for: .both, default: ConfigurationSources.defaultSecretsDirectory,
        "Directory of secret files named like the settings (Docker secrets); lowest precedence.")

    /// The whole reference, in the order the README lists it.
    public static let all: [Setting] = [
        environment, ssl, sslCertificateFile, sslKeyFile, accessSecret, previousAccessSecret, refreshSecret,
        signingKeys, issuer, audience, accessTTL, refreshTTL, clockSkew, redisPassword, valkeyURL,
        valkeyPoolSize, valkeyCacheEntries, valkeyConnectTimeout, valkeyCommandTimeout, tinodeTopicID, tinodeGRPCAddress,
        tinodeRequestTimeout, tinodeHeartbeat, tinodeKeepalive, tinodeConnections, tinodeServiceLogin, tinodeServicePassword,
        gatewaySessionIdle, gatewayMaxSessions, gatewayLiveBuffer, gatewayMaxReplay, gatewayMaxStreamsPerUser, gatewayAuthAttempts,
        gatewayLoginAttemptsPerAccount, trustedProxies, gatewayEmailVerification,
        gatewayVerifyAttempts, gatewayVerifyResends, gatewayMaxLogins, gatewayRefreshGrace, gatewayRefreshRetry, gatewayStreamRecheck,
        gatewayRefreshes, tinodeTokenLifetime,
        gatewaySendBurst, gatewaySendsPerSecond,
        gatewayMaxMessageBytes, mongoURL, mongoDatabase, mongoTimeout, mongoPoolSize, mongoFallback,
        authPluginHTTPAddress, authPluginGRPCAddress, authPluginGRPCIdleTimeout, authPluginGRPCMaxStreams,
        authPluginGRPCMaxConnections, authPluginGRPCMaxMessageBytes, gatewayHTTPAddress,
        gatewayMetricsAddress, httpRequestTimeout, httpIdleTimeout,
        loginNameMaxLength,
        logLevel,
        restAuthPathPrefix, restAuthTimeout, restAuthMaxBody, restAuthAllowNewAccounts, restAuthNamespaces,
        authPluginAllowedNetworks, pluginLoginAttempts, pluginThrottleExempt, pluginThrottleTimeout, pluginMaxPubBytes,
        pluginCanonicalLogins, pluginFindEmails, pluginWebhookURLs, pluginWebhookSecret, pluginWebhookQueueSize,
        pluginWebhookTimeout, pluginWebhookAttempts, pluginWebhookBackoff, pluginWebhookConcurrency, externalIssuer,
        externalAudience, externalEmailVerifiedClaim, externalMaxLifetime, externalKeys, externalJWKSURL, externalJWKSRefresh,
        configFile,
        secretsDirectory,
    ]
}

extension ConfigReader {
    /// The trimmed string value of `setting`, or nil when unset or empty.
    public func string(_ setting: Setting) -> String? {
        // A JSON config file may hold numbers and booleans where the environment holds text.
        let value =
            string(forKey: setting.key, isSecret: setting.isSecret)
            ?? int(forKey: setting.key, isSecret: setting.isSecret).map(String.init)
            ?? bool(forKey: setting.key, isSecret: setting.isSecret).map(String.init)
        guard let value else { return nil }
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty ? nil : trimmed
    }
}
