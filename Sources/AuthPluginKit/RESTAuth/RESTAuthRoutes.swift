import Foundation
import Hummingbird
import Logging
import Metrics
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
            Counter(label: "authplugin_rest_refused_total").increment()
            return Response(status: .forbidden)
        }
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: settings.maxBodyBytes)
        } catch {
            logger.warning("REST-auth body over the limit", metadata: ["addr": "\(address)", "limit": "\(settings.maxBodyBytes)"])
            Counter(label: "authplugin_rest_refused_total").increment()
            return Response(status: .contentTooLarge)
        }

        let (endpoint, response, clientAddress) = await respond(to: body, pathEndpoint: pathEndpoint)
        let outcome = response.err?.rawValue ?? "ok"
        let label = RESTAuthEndpoint(rawValue: endpoint)?.rawValue ?? "unknown"
        Counter(label: "authplugin_rest_requests_total", dimensions: [("endpoint", label), ("result", outcome)]).increment()
        Timer(label: "authplugin_rest_request_duration_seconds", dimensions: [("endpoint", label)])
            .recordInterval(since: started)
        // The secret is never logged; the client's own address (from Tinode) is.
        logger.info(
            "REST-auth",
            metadata: ["endpoint": "\(label)", "result": "\(outcome)", "addr": "\(address)", "client_addr": "\(clientAddress ?? "")"])
        return Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: response.encoded())))
    }

    /// Decodes and answers within the deadline; also returns the endpoint and the end user's
    /// address (Tinode's `addr`) for the log.
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
        let service = self.service
        let answer = await withDeadline(settings.timeout) { await service.handle(request) }
        return (request.endpoint, answer ?? .failure(.internal), request.address)
    }
}

/// Runs `body`, or gives up after `timeout` and returns nil (the body's task is cancelled).
func withDeadline<T: Sendable>(_ timeout: Duration, _ body: @escaping @Sendable () async -> T) async -> T? {
    await withTaskGroup(of: T?.self) { group in
        group.addTask { await body() }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return nil
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        return first
    }
}

extension Timer {
    /// Records the time since `start`.
    func recordInterval(since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        recordNanoseconds(Int64(elapsed.components.seconds) * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
    }
}
