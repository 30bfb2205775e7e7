import GatewayKit
import Hummingbird
import Logging
import SidecarCore
import SidecarServer

/// Builds the Gateway's HTTP application and its Tinode side (connector, session pool, chat room).
/// The HTTP API routes come with the HTTP API issue.
func buildGatewayApplication(
    configuration: SidecarConfiguration, logger: Logger
) async throws -> some ApplicationProtocol {
    if configuration.ssl {
        // Refuse rather than silently serve plain HTTP to someone who asked for HTTPS.
        throw ConfigurationError(
            setting: Settings.ssl.name,
            reason: "HTTPS is not served by this version yet; terminate TLS in front of the Gateway or set SSL=false")
    }
    let tokenStore = try StoreBackend(configuration: configuration, logger: logger)
    let tinode = try TinodeLayer(configuration: configuration, serviceAccounts: tokenStore.serviceAccounts, logger: logger)
    let router = Router()
    router.addOperationalRoutes()
    return Application(
        router: router,
        configuration: .init(address: configuration.gatewayHTTPAddress.bindAddress, serverName: "Gateway"),
        services: tokenStore.services + tinode.services,
        logger: logger
    )
}
