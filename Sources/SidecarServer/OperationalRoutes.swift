import Hummingbird

extension Router {
    /// `GET /healthz` (the process is alive and serving) and `GET /metrics` (Prometheus text
    /// format, version 0.0.4).
    public func addOperationalRoutes() {
        get("/healthz") { _, _ -> Response in
            Response(
                status: .ok,
                headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: #"{"status":"ok"}"#)))
        }
        get("/metrics") { _, _ -> Response in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: Observability.registry.emitToBuffer())))
        }
    }
}
