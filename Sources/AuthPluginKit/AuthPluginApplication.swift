import Hummingbird
import Logging
import ServiceLifecycle
import SidecarCore
import SidecarServer

/// Builds AuthPlugin: the REST-auth server with `/healthz` and `/metrics` on
/// `AUTHPLUGIN_HTTP_ADDR`, and the `pbx.Plugin` gRPC server (with its webhook dispatcher) on
/// `AUTHPLUGIN_GRPC_ADDR`, all in one service group. Tests call it with their own configuration and port 0.
public func buildAuthPluginApplication(
    configuration: SidecarConfiguration, logger: Logger
) async throws -> some ApplicationProtocol {
    let backend = try StoreBackend(configuration: configuration, logger: logger)
    let service = try await RESTAuthService(configuration: configuration, backend: backend, logger: logger)
    let plugin = try PluginComponents(configuration: configuration, backend: backend, logger: logger)
    let router = Router(context: AuthPluginRequestContext.self)
    router.addOperationalRoutes()
    RESTAuthRoutes(service: service, settings: configuration.restAuth, logger: logger).register(on: router)
    return Application(
        router: router,
        server: .http1(deadlines: HTTPConnectionDeadlines(configuration)),
        configuration: .init(address: configuration.authPluginHTTPAddress.bindAddress, serverName: "AuthPlugin"),
        // Shut down in reverse order: the gRPC server first, then the webhooks drain, then Valkey.
        services: backend.services + plugin.services,
        logger: logger
    )
}

extension RESTAuthService {
    /// The service with the stores and verifiers the configuration names.
    public init(
        configuration: SidecarConfiguration, backend: StoreBackend, logger: Logger = Logger(label: "AuthPlugin")
    ) async throws {
        let external: ExternalTokenVerifier? =
            if let settings = configuration.restAuth.external {
                try await ExternalTokenVerifier(
                    settings: settings, leeway: configuration.jwt.leeway,
                    jwks: JWKSFetcher.keySource(for: settings, logger: logger))
            } else {
                nil
            }
        self.init(
            tokens: try await TokenService(settings: configuration.jwt),
            external: external,
            tokenStore: backend.store,
            links: backend.identityLinks,
            proofs: backend.provenAddresses,
            loginNames: try LoginNameMapper(maximumLength: configuration.loginNameMaxLength),
            settings: configuration.restAuth,
            logger: logger,
            tinodeRevocations: backend.tinodeRevocations,
            revocationNotices: backend.revocationNotices)
    }
}

/// The `pbx.Plugin` side of AuthPlugin: the gRPC server and, when webhooks are configured, the
/// dispatcher that delivers events.
public struct PluginComponents: Sendable {
    public let server: PluginGRPCServer
    public let webhooks: WebhookDispatcher?

    public init(configuration: SidecarConfiguration, backend: StoreBackend, logger: Logger) throws {
        let metrics = PluginMetrics()
        let webhooks = configuration.plugin.webhooks.map { WebhookDispatcher(settings: $0, metrics: metrics, logger: logger) }
        let service = PluginService(
            settings: configuration.plugin, rateLimiter: backend.rateLimiter, provenAddresses: backend.provenAddresses,
            loginNames: try LoginNameMapper(maximumLength: configuration.loginNameMaxLength), webhooks: webhooks,
            metrics: metrics, logger: logger, tinodeRevocations: backend.tinodeRevocations,
            tinodeTokenLifetime: configuration.gatewayLimits.tinodeTokenLifetime)
        server = PluginGRPCServer(
            address: configuration.authPluginGRPCAddress, routes: service.routes,
            allowedNetworks: configuration.restAuth.allowedNetworks, idleTimeout: configuration.authPluginGRPCIdleTimeout,
            limits: PluginPortLimits(
                maximumConcurrentStreams: configuration.authPluginGRPCMaxStreams,
                maximumMessageBytes: configuration.authPluginGRPCMaxMessageBytes,
                maximumConnections: configuration.authPluginGRPCMaxConnections),
            metrics: metrics, logger: logger)
        self.webhooks = webhooks
    }

    /// In start-up order.
    public var services: [any Service] { (webhooks.map { [$0] } ?? []) + [server] }
}
