import Atomics
import Foundation
import Hummingbird
import Logging
import Metrics
import NIOCore
import NIOPosix
import SidecarCore

/// Serves REST-auth over HTTP in both of Tinode's modes at once: `POST /` with the endpoint in the
/// body (`use_separate_endpoints: false`) and `POST /<endpoint>` (`true`), at the root and under
/// `REST_AUTH_PATH_PREFIX`.
///
/// Tinode treats any status but 2xx as a bare 500 and calls without a timeout (v0.25.3), so every
/// business answer is HTTP 200 with `{"err": ...}` and every request has our own deadline.
struct RESTAuthRoutes: Sendable {
    let service: RESTAuthService
    let settings: RESTAuthSettings
    let logger: Logger
    let metrics = RESTAuthMetrics()

    func register(on router: Router<AuthPluginRequestContext>) {
        var prefixes = [""]
        if !settings.pathPrefix.isEmpty { prefixes.append(settings.pathPrefix) }
        for prefix in prefixes {
            let group = router.group(RouterPath(prefix.isEmpty ? "/" : prefix))
            group.post { request, context in try await answer(request, context: context, pathEndpoint: nil) }
            group.post(":endpoint") { request, context in
                try await answer(request, context: context, pathEndpoint: context.parameters.get("endpoint") ?? "")
            }
        }
    }

    private func answer(_ request: Request, context: AuthPluginRequestContext, pathEndpoint: String?) async throws -> Response {
        let started = ContinuousClock.now
        let address = context.remoteAddress?.ipAddress
        guard let address, settings.allowedNetworks.allows(address) else {
            logger.warning("REST-auth caller refused by AUTHPLUGIN_ALLOWED_NETWORKS", metadata: ["addr": "\(address ?? "unknown")"])
            metrics.refused.increment()
            return Response(status: .forbidden)
        }
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: settings.maxBodyBytes)
        } catch is NIOTooManyBytesError {
            logger.warning("REST-auth body over the limit", metadata: ["addr": "\(address)", "limit": "\(settings.maxBodyBytes)"])
            metrics.refused.increment()
            return Response(status: .contentTooLarge)
        }

        let (endpoint, response, clientAddress) = await respond(to: body, pathEndpoint: pathEndpoint)
        let outcome = response.err?.rawValue ?? "ok"
        let label = RESTAuthEndpoint(rawValue: endpoint)?.rawValue ?? "unknown"
        metrics.record(endpoint: label, result: outcome, since: started)
        // The secret is never logged; the client's own address (from Tinode) is.
        logger.info(
            "REST-auth",
            metadata: ["endpoint": "\(label)", "result": "\(outcome)", "addr": "\(address)", "client_addr": "\(clientAddress ?? "")"])
        return Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: response.encoded())))
    }

    /// Decodes and answers, at once when no I/O is needed, else within the deadline; also returns the
    /// endpoint and the end user's address (Tinode's `addr`) for the log.
    private func respond(to body: ByteBuffer, pathEndpoint: String?) async -> (String, RESTAuthResponse, String?) {
        let request: RESTAuthRequest
        do {
            request = try RESTAuthRequest(json: body.readableBytesView)
        } catch {
            return (pathEndpoint ?? "unknown", .failure(.malformed), nil)
        }
        if let pathEndpoint, pathEndpoint != request.endpoint {
            return (pathEndpoint, .failure(.malformed), request.address)
        }
        if let answer = service.answerFromMemory(request) { return (request.endpoint, answer, request.address) }
        let service = self.service
        let answer = await withDeadline(settings.timeout) { await service.handle(request) }
        return (request.endpoint, answer ?? .failure(.internal), request.address)
    }
}

/// Runs `body`, or gives up after `timeout` and returns nil.
///
/// The body runs in a task of its own that an event-loop timer cancels, instead of racing a
/// sleeping child task (a second task and a dispatch timer on every request). What the body awaits
/// (Valkey) stops at once when cancelled; the body's late answer is discarded.
func withDeadline<T: Sendable>(
    _ timeout: Duration, on eventLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.any(),
    _ body: @escaping @Sendable () async -> T
) async -> T? {
    let expired = ManagedAtomic(false)
    let work = Task { await body() }
    let timer = eventLoop.scheduleTask(in: .nanoseconds(Int64(timeout.seconds * 1e9))) {
        expired.store(true, ordering: .relaxed)
        work.cancel()
    }
    let result = await withTaskCancellationHandler {
        await work.value
    } onCancel: {
        work.cancel()
    }
    timer.cancel()
    return expired.load(ordering: .relaxed) ? nil : result
}
