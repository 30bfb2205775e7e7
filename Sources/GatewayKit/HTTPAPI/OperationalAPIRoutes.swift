import Foundation
import GatewayContract
import Hummingbird
import NIOCore
import SidecarCore

extension GatewayAPI {
    /// `openapi/openapi.yaml`, as JSON (generated into `GatewayAPIDocument`).
    static let openAPIDocument = Data(GatewayAPIDocument.json.utf8)

    /// `GET /openapi.json`: the API's contract, `openapi/openapi.yaml`.
    public func registerOpenAPI(on router: Router<GatewayRequestContext>) {
        router.get("openapi.json") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: Self.openAPIDocument)))
        }
    }

    /// `GET /readyz`: 200 when the token store answers and the chat room is known (Tinode was
    /// reached); 503 otherwise, naming what failed (`token_store`, `tinode`).
    ///
    /// The answer never carries the failure itself: a store error names Valkey's host and port, and
    /// a load balancer's probe is not the only caller that reaches this route. The detail goes to
    /// the log instead.
    public func registerReadiness(on router: Router<GatewayRequestContext>) {
        router.get("readyz") { _, _ -> Response in
            var failed: [String] = []
            var problems: [String] = []
            do {
                _ = try await self.tokenStore.get(accessID: "readiness-probe")
            } catch {
                self.logger.warning("not ready: the token store does not answer", metadata: ["error": "\(error)"])
                failed.append("token_store")
                problems.append("the token store does not answer")
            }
            if await self.pool.roomTopic == nil {
                self.logger.warning("not ready: Tinode not reached or the chat room not known yet")
                failed.append("tinode")
                problems.append("Tinode not reached or the chat room not known yet")
            }
            if failed.isEmpty { return try jsonResponse(["status": "ready"]) }
            var response = try jsonResponse(
                ["status": "not ready", "failed": failed, "problems": problems], status: .serviceUnavailable)
            response.headers[.retryAfter] = "1"
            return response
        }
    }
}
