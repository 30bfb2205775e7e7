import Hummingbird
import Logging
import ServiceLifecycle
import SidecarCore
import SidecarServer

/// The Gateway's `GET /metrics`, on a listener of its own at `GATEWAY_METRICS_ADDR`.
///
/// The API's port faces the internet, and Prometheus text tells whoever reads it the Gateway's
/// traffic, error rates, sessions and Tinode outages. A second, plain HTTP server in the same
/// service group (it starts and stops with the Gateway) serves nothing else, on loopback unless the
/// operator binds it to a network their Prometheus can reach. It has the same connection deadlines
/// as the API, so a slow client cannot hold it either.
func metricsListener(configuration: SidecarConfiguration, logger: Logger) -> some Service {
    let router = Router()
    router.addMetricsRoute()
    return Application(
        router: router,
        server: .http1(deadlines: HTTPConnectionDeadlines(configuration)),
        configuration: .init(address: configuration.gatewayMetricsAddress.bindAddress, serverName: "Gateway metrics"),
        logger: logger
    )
}
