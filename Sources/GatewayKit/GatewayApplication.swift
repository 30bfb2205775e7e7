import Hummingbird
import HummingbirdWebSocket
import Logging
import SidecarCore
import SidecarServer

/// Builds the Gateway: its HTTP API (`/v1/...`), `/healthz`, `/readyz`, `/metrics`, and its Tinode
/// side (connector, session pool, chat room). Tests call it with their own configuration and port 0.
public func buildGatewayApplication(
    configuration: SidecarConfiguration, logger: Logger
) async throws -> some ApplicationProtocol {
    if configuration.ssl {
        // Refuse rather than silently serve plain HTTP to someone who asked for HTTPS.
        throw ConfigurationError(
            setting: Settings.ssl.name,
            reason: "HTTPS is not served by this version yet; terminate TLS in front of the Gateway or set SSL=false")
    }
    let backend = try StoreBackend(configuration: configuration, logger: logger)
    let tinode = try TinodeLayer(configuration: configuration, serviceAccounts: backend.serviceAccounts, logger: logger)
    var settings = GatewayAPISettings()
    let limits = configuration.gatewayLimits
    settings.authAttempts = .perMinute(limits.authAttemptsPerMinute)
    settings.sends = RateLimit(capacity: limits.sendBurst, perSecond: limits.sendsPerSecond)
    settings.maxMessageBytes = limits.maxMessageBytes
    let api = GatewayAPI(
        tokens: try await TokenService(settings: configuration.jwt), backend: backend, pool: tinode.pool,
        loginNames: try LoginNameMapper(maximumLength: configuration.loginNameMaxLength), settings: settings, logger: logger)
    let router = Router(context: GatewayRequestContext.self)
    router.add(middleware: RequestIDMiddleware())
    router.add(middleware: MetricsMiddleware())
    router.add(middleware: LogRequestsMiddleware(.debug))
    router.addOperationalRoutes()
    api.registerReadiness(on: router)
    api.registerOpenAPI(on: router)
    api.register(on: router)
    return Application(
        router: router,
        server: .http1WebSocketUpgrade { request, _, _ in await api.webSocketUpgrade(request) },
        configuration: .init(address: configuration.gatewayHTTPAddress.bindAddress, serverName: "Gateway"),
        services: backend.services + tinode.services,
        logger: logger
    )
}
