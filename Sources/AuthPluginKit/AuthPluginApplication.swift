import Hummingbird
import Logging
import SidecarCore
import SidecarServer

/// Builds AuthPlugin: the REST-auth server with `/healthz` and `/metrics` on
/// `AUTHPLUGIN_HTTP_ADDR`. Tests call it with their own configuration and port 0.
public func buildAuthPluginApplication(
    configuration: SidecarConfiguration, logger: Logger
) async throws -> some ApplicationProtocol {
    let backend = try StoreBackend(configuration: configuration, logger: logger)
    let service = try await RESTAuthService(configuration: configuration, backend: backend, logger: logger)
    let router = Router(context: AuthPluginRequestContext.self)
    router.addOperationalRoutes()
    RESTAuthRoutes(service: service, settings: configuration.restAuth, logger: logger).register(on: router)
    return Application(
        router: router,
        configuration: .init(address: configuration.authPluginHTTPAddress.bindAddress, serverName: "AuthPlugin"),
        services: backend.services,
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
            loginNames: try LoginNameMapper(maximumLength: configuration.loginNameMaxLength),
            settings: configuration.restAuth)
    }
}
