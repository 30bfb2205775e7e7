import Logging
import ServiceLifecycle
import Valkey

/// The stores a program runs with, chosen from the configuration: Valkey when `VALKEY_URL` is
/// set, the embedded in-memory store otherwise (development only; `SidecarConfiguration` refuses
/// production without Valkey).
public struct StoreBackend: Sendable {
    public let store: any TokenStore
    /// External identities `(iss, sub)` -> Tinode uid of REST-auth users (durable in Valkey).
    public let identityLinks: any IdentityLinkStore
    /// Addresses proven to belong to an account (Tinode's validation through the Gateway, or a
    /// verified external token): shared by both programs, so that only proven addresses link logins.
    public let provenAddresses: any ProvenAddressStore
    /// Per user, the time before which Tinode's own tokens no longer count (logout-all, deletion,
    /// refresh-token reuse), read by AuthPlugin's FireHose at token logins.
    public let tinodeRevocations: any TinodeTokenRevocations
    /// "These tokens no longer work", to every Gateway instance (Valkey pub/sub).
    public let revocationNotices: any RevocationNotices
    /// The Gateway's self-made service account (development without `TINODE_SERVICE_LOGIN`).
    public let serviceAccounts: any ServiceAccountStore
    /// Refresh-token families (rotation, reuse detection).
    public let refreshFamilies: any RefreshFamilyStore
    /// Answers kept for `Idempotency-Key` retries.
    public let idempotency: any IdempotencyStore
    /// Token buckets shared by all instances.
    public let rateLimiter: any RateLimiter
    /// The Valkey client, when there is one: callers add it to their service group so that it is
    /// closed on graceful shutdown, and use it for their own keys (links, rate limits).
    public let valkey: ValkeyClient?

    public init(configuration: SidecarConfiguration, logger: Logger) throws {
        guard let settings = configuration.valkey else {
            store = InMemoryTokenStore(maximumLogins: configuration.gatewayLimits.maximumLoginsPerUser)
            identityLinks = InMemoryIdentityLinkStore()
            provenAddresses = InMemoryProvenAddressStore()
            tinodeRevocations = InMemoryTinodeTokenRevocations()
            revocationNotices = LocalRevocationNotices()
            serviceAccounts = InMemoryServiceAccountStore()
            refreshFamilies = InMemoryRefreshFamilyStore()
            idempotency = InMemoryIdempotencyStore()
            rateLimiter = InMemoryRateLimiter()
            valkey = nil
            return
        }
        var valkeyConfiguration: ValkeyConfiguration
        do {
            valkeyConfiguration = try ValkeyConfiguration(
                url: settings.url,
                password: settings.password.map { String(decoding: $0.bytes, as: UTF8.self) },
                poolSize: settings.poolSize,
                connectTimeout: settings.connectTimeout,
                commandTimeout: settings.commandTimeout)
            valkeyConfiguration.cachedEntries = settings.cacheEntries
        } catch {
            throw ConfigurationError(setting: Settings.valkeyURL.name, reason: "\(error)")
        }
        let client = ValkeyClient(configuration: valkeyConfiguration, logger: logger)
        store = ValkeyTokenStore(client: client, maximumLogins: configuration.gatewayLimits.maximumLoginsPerUser)
        identityLinks = ValkeyIdentityLinkStore(client: client)
        provenAddresses = ValkeyProvenAddressStore(client: client)
        tinodeRevocations = ValkeyTinodeTokenRevocations(client: client, tokenLifetime: configuration.gatewayLimits.tinodeTokenLifetime)
        revocationNotices = ValkeyRevocationNotices(client: client)
        serviceAccounts = ValkeyServiceAccountStore(client: client)
        refreshFamilies = ValkeyRefreshFamilyStore(client: client)
        idempotency = ValkeyIdempotencyStore(client: client)
        rateLimiter = ValkeyRateLimiter(client: client)
        valkey = client
    }

    /// What must run in the program's service group.
    public var services: [any Service] { valkey.map { [$0] } ?? [] }
}
