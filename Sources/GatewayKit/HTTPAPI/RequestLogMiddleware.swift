import Hummingbird
import Logging

/// Logs each request's method and path, never its query string.
///
/// Hummingbird's `LogRequestsMiddleware` logs the whole URI, and `GET /v1/ws?access_token=<JWT>`
/// carries a live access token in its query: browsers cannot set an `Authorization` header on a
/// WebSocket. A request to that route that is not upgraded still goes through the router, so its
/// token would land in the log. Query strings hold nothing a request log needs, so none is written.
struct RequestLogMiddleware<Context: RequestContext>: RouterMiddleware {
    let level: Logger.Level

    init(_ level: Logger.Level) {
        self.level = level
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        context.logger.log(
            level: level, "Request",
            metadata: ["hb.request.path": .string(request.uri.path), "hb.request.method": .string(request.method.rawValue)])
        return try await next(request, context)
    }
}
