import Foundation

/// AuthPlugin's `pbx.Plugin` service: which FireHose policies are on, whether Find rewrites
/// e-mail addresses, and where events go as webhooks.
public struct PluginSettings: Sendable {
    /// `{login}` and `{acc}` attempts per client address per minute; nil = no throttling.
    public var loginAttemptsPerMinute: Int?
    /// Clients in these blocks are never throttled (the Gateway, which limits its own callers).
    public var throttleExempt: NetworkAllowList
    /// How long a throttle check may wait for the store before the message is let through.
    public var throttleTimeout: Duration
    /// Largest `{pub}` content in bytes; nil = no size guard.
    public var maxPubBytes: Int?
    /// Refuse new `basic` accounts whose login is not the mapped form of their `email` credential.
    public var canonicalLogins: Bool
    /// Rewrite e-mail addresses in `Find` queries into tags.
    public var findEmails: Bool
    /// Where events are POSTed; nil = no webhooks.
    public var webhooks: WebhookSettings?

    public init(
        loginAttemptsPerMinute: Int?, throttleExempt: NetworkAllowList = NetworkAllowList(parsing: "")!,
        throttleTimeout: Duration = .milliseconds(250), maxPubBytes: Int?,
        canonicalLogins: Bool, findEmails: Bool, webhooks: WebhookSettings?
    ) {
        self.loginAttemptsPerMinute = loginAttemptsPerMinute
        self.throttleExempt = throttleExempt
        self.throttleTimeout = throttleTimeout
        self.maxPubBytes = maxPubBytes
        self.canonicalLogins = canonicalLogins
        self.findEmails = findEmails
        self.webhooks = webhooks
    }
}

/// How plugin events are delivered as signed JSON POSTs.
public struct WebhookSettings: Sendable {
    /// Every event goes to each of these (http or https).
    public var urls: [URL]
    /// HMAC-SHA256 key of `X-Signature`.
    public var secret: SecretBytes
    /// Deliveries (one event to one URL) waiting at most; beyond it the oldest is dropped.
    public var queueSize: Int
    /// Deadline of one POST.
    public var timeout: Duration
    /// Attempts per delivery, the first included.
    public var maxAttempts: Int
    /// Wait before the first retry; doubled per retry up to `maximumBackoff`.
    public var initialBackoff: Duration
    public var maximumBackoff: Duration
    /// POSTs in flight at once.
    public var concurrency: Int

    public init(
        urls: [URL], secret: SecretBytes, queueSize: Int = 10_000, timeout: Duration = .seconds(5), maxAttempts: Int = 6,
        initialBackoff: Duration = .milliseconds(500), maximumBackoff: Duration = .seconds(30), concurrency: Int = 4
    ) {
        self.urls = urls
        self.secret = secret
        self.queueSize = queueSize
        self.timeout = timeout
        self.maxAttempts = maxAttempts
        self.initialBackoff = initialBackoff
        self.maximumBackoff = maximumBackoff
        self.concurrency = concurrency
    }

    /// Parses `PLUGIN_WEBHOOK_URLS`: comma-separated absolute http(s) URLs with a host.
    static func parseURLs(_ text: String) -> [URL]? {
        var urls: [URL] = []
        for entry in text.split(separator: ",") {
            let trimmed = entry.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty else { continue }
            guard let url = URL(string: trimmed), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
                let host = url.host, !host.isEmpty
            else { return nil }
            urls.append(url)
        }
        return urls
    }
}

extension PluginSettings {
    /// `PLUGIN_*`: the FireHose policies, Find, and webhooks.
    init(reader: SettingsReader, environment: DeploymentEnvironment, warnings: inout [String]) throws {
        let attempts = try reader.int(Settings.pluginLoginAttempts, in: 0...1_000_000)
        let maxPub = try reader.int(Settings.pluginMaxPubBytes, in: 0...100_000_000)
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
            if secret.bytes.count < SecretBytes.minimumCount {
                if environment == .production {
                    throw ConfigurationError(
                        setting: Settings.pluginWebhookSecret.name,
                        reason: "is \(secret.bytes.count) bytes; production needs at least \(SecretBytes.minimumCount)")
                }
                warnings.append(
                    "\(Settings.pluginWebhookSecret.name) is shorter than \(SecretBytes.minimumCount) bytes; production would refuse it")
            }
            webhooks = WebhookSettings(
                urls: urls, secret: secret,
                queueSize: try reader.int(Settings.pluginWebhookQueueSize, in: 1...10_000_000),
                timeout: .milliseconds(try reader.int(Settings.pluginWebhookTimeout, in: 10...120_000)),
                maxAttempts: try reader.int(Settings.pluginWebhookAttempts, in: 1...100),
                initialBackoff: .milliseconds(try reader.int(Settings.pluginWebhookBackoff, in: 1...600_000)),
                maximumBackoff: .seconds(30),
                concurrency: try reader.int(Settings.pluginWebhookConcurrency, in: 1...256))
        }
        self.init(
            loginAttemptsPerMinute: attempts == 0 ? nil : attempts,
            throttleExempt: exempt,
            throttleTimeout: .milliseconds(try reader.int(Settings.pluginThrottleTimeout, in: 1...60_000)),
            maxPubBytes: maxPub == 0 ? nil : maxPub,
            canonicalLogins: try reader.bool(Settings.pluginCanonicalLogins),
            findEmails: try reader.bool(Settings.pluginFindEmails),
            webhooks: webhooks)
    }
}
