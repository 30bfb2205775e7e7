import Hummingbird
import Logging
import SidecarCore
import SidecarServer

/// Builds the AuthPlugin's HTTP application. Later issues add the REST-auth endpoints and the
/// pbx.Plugin gRPC service as routes and services here.
func buildAuthPluginApplication(
    configuration: SidecarConfiguration, logger: Logger
) async throws -> some ApplicationProtocol {
    let tokenStore = try TokenStoreBackend(configuration: configuration, logger: logger)
    let router = Router()
    router.addOperationalRoutes()
    return Application(
        router: router,
        configuration: .init(address: configuration.authPluginHTTPAddress.bindAddress, serverName: "AuthPlugin"),
        services: tokenStore.services,
        logger: logger
    )
}
