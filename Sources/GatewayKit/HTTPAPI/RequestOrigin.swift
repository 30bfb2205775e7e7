import Hummingbird
import SidecarCore

/// The client of the request running now, as the per-client rate limits count it (the socket's
/// peer, or the client a trusted proxy names: ``GatewayRequestContext/client(of:resolver:)``).
/// The generated routes' handlers see no Hummingbird context, so this middleware hands it over.
enum RequestOrigin {
    @TaskLocal static var client: ClientIP?
}

/// Resolves the client before the routes run (``RequestOrigin``).
struct RequestOriginMiddleware: RouterMiddleware {
    let resolver: ClientAddressResolver

    func handle(
        _ request: Request, context: GatewayRequestContext, next: (Request, GatewayRequestContext) async throws -> Response
    ) async throws -> Response {
        try await RequestOrigin.$client.withValue(context.client(of: request, resolver: resolver)) {
            try await next(request, context)
        }
    }
}
