import Foundation
import Hummingbird
import NIOCore
import SidecarCore

extension GatewayAPI {
    /// `GET /openapi.json`: the OpenAPI 3.1 document of the API.
    public func registerOpenAPI(on router: Router<GatewayRequestContext>) {
        router.get("openapi.json") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: OpenAPIDocument.json)))
        }
    }

    /// `GET /readyz`: 200 when the token store answers and the chat room is known (Tinode was
    /// reached); 503 with what is missing otherwise.
    public func registerReadiness(on router: Router<GatewayRequestContext>) {
        router.get("readyz") { _, _ -> Response in
            var problems: [String] = []
            do {
                _ = try await self.tokenStore.get(accessID: "readiness-probe")
            } catch {
                problems.append("token store: \(error)")
            }
            if await self.pool.roomTopic == nil { problems.append("tinode: chat room not known yet") }
            if problems.isEmpty { return try jsonResponse(["status": "ready"]) }
            var response = try jsonResponse(["status": "not ready", "problems": problems], status: .serviceUnavailable)
            response.headers[.retryAfter] = "1"
            return response
        }
    }
}
