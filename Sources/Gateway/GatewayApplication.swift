import Hummingbird
import Logging
import SidecarCore
import SidecarServer

/// Builds the Gateway's HTTP application. Later issues add the API routes and the Tinode session
/// pool here.
func buildGatewayApplication(
    configuration: SidecarConfiguration, logger: Logger
) async throws -> some ApplicationProtocol {
    let router = Router()
    router.addOperationalRoutes()
    return Application(
        router: router,
        configuration: .init(address: configuration.gatewayHTTPAddress.bindAddress, serverName: "Gateway"),
        logger: logger
    )
}
