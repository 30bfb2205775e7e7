import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import HummingbirdWebSocket
import Logging
import SidecarCore
import SidecarServer

/// Builds the Gateway: its HTTP API (`/v1/...`), `/healthz`, `/readyz`, `/metrics` on its own
/// listener, and its Tinode side (connector, session pool, chat room). Tests call it with their own
/// configuration and port 0.
public func buildGatewayApplication(
    configuration: SidecarConfiguration, logger: Logger
) async throws -> some ApplicationProtocol {
    // Checked before anything starts: a bad certificate is a configuration error, not a late surprise.
    let tls =
        try configuration.ssl
        ? GatewayTLS.configuration(certificateFile: configuration.sslCertificateFile ?? "", keyFile: configuration.sslKeyFile ?? "")
        : nil
    let backend = try StoreBackend(configuration: configuration, logger: logger)
    let tinode = try TinodeLayer(configuration: configuration, serviceAccounts: backend.serviceAccounts, logger: logger)
    var settings = GatewayAPISettings()
    let limits = configuration.gatewayLimits
    settings.authAttempts = .perMinute(limits.authAttemptsPerMinute)
    settings.accountAttempts = RateLimit(
        capacity: limits.loginAttemptsPerAccountPerHour, perSecond: Double(limits.loginAttemptsPerAccountPerHour) / 3600)
    settings.clientAddresses = ClientAddressResolver(trustedProxies: configuration.trustedProxies)
    settings.emailVerification = limits.emailVerification
    settings.refreshes = .perMinute(limits.refreshesPerMinute)
    settings.refreshGrace = limits.refreshGrace
    settings.refreshRetryWindow = limits.refreshRetryWindow
    settings.tinodeTokenLifetime = limits.tinodeTokenLifetime
    settings.streamRecheckInterval = limits.streamRecheckInterval
    settings.externalIssuer = configuration.restAuth.external?.issuer
    settings.verifyAttempts = RateLimit(capacity: limits.verifyAttemptsPerHour, perSecond: Double(limits.verifyAttemptsPerHour) / 3600)
    settings.verifyResends = RateLimit(capacity: limits.verifyResendsPerHour, perSecond: Double(limits.verifyResendsPerHour) / 3600)
    settings.sends = RateLimit(capacity: limits.sendBurst, perSecond: limits.sendsPerSecond)
    settings.maxMessageBytes = limits.maxMessageBytes
    settings.maxReplay = limits.maxReplay
    settings.maxStreamsPerUser = limits.maxStreamsPerUser
    let storeReads = try configuration.mongo.map { try StoreReads(settings: $0, logger: logger) }
    let api = GatewayAPI(
        tokens: try await TokenService(settings: configuration.jwt), backend: backend, pool: tinode.pool,
        loginNames: try LoginNameMapper(maximumLength: configuration.loginNameMaxLength), settings: settings,
        storeReads: storeReads, logger: logger)
    let router = Router(context: GatewayRequestContext.self)
    router.add(middleware: RequestIDMiddleware())
    router.add(middleware: MetricsMiddleware())
    router.add(middleware: RequestLogMiddleware(.debug))
    router.addHealthRoute()
    api.registerReadiness(on: router)
    api.registerOpenAPI(on: router)
    try api.register(on: router)
    return Application(
        router: router,
        server: server(tls: tls, api: api, deadlines: HTTPConnectionDeadlines(configuration)),
        configuration: .init(address: configuration.gatewayHTTPAddress.bindAddress, serverName: "Gateway"),
        services: backend.services + tinode.services + (storeReads.map { [$0.service] } ?? [])
            + [metricsListener(configuration: configuration, logger: logger), RevocationListener(api: api)],
        logger: logger
    )
}

/// What a request the HTTP parser refuses gets, in the API's error format.
private let malformedRequestBody = APIError.badRequest(
    "The request is not valid HTTP/1.1 (malformed, or too many or too large headers)."
).jsonBody

/// HTTP/1.1 with WebSocket upgrades, inside TLS when `SSL=true`, with the connection deadlines and
/// a 400 for requests the HTTP parser refuses (an accepted WebSocket leaves both: it has its own
/// liveness rules and is no longer HTTP).
private func server(tls: TLSConfiguration?, api: GatewayAPI, deadlines: HTTPConnectionDeadlines) -> HTTPServerBuilder {
    HTTPServerBuilder { responder in
        let upgradable = HTTP1WebSocketUpgradeChannel(
            responder: responder,
            configuration: .init(http1: .init(additionalChannelHandlers: HTTPConnectionDeadlines.requestBoundaryHandlers()))
        ) { request, channel, _ in
            let answer = await api.webSocketUpgrade(request)
            if case .upgrade = answer {
                await HTTPConnectionDeadlines.stop(on: channel)
                await MalformedRequestAnswering<HTTP1WebSocketUpgradeChannel>.stop(on: channel)
            }
            return answer
        }
        let plain = MalformedRequestAnswering(upgradable, body: malformedRequestBody)
        guard let tls else { return DeadlineChildChannel(plain, deadlines: deadlines) }
        return DeadlineChildChannel(try TLSChannel(plain, tlsConfiguration: tls), deadlines: deadlines)
    }
}
