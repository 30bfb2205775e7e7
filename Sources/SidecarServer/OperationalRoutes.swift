import Hummingbird

extension Router {
    /// `GET /healthz` and `GET /metrics` on one router: AuthPlugin's, whose port only Tinode reaches.
    public func addOperationalRoutes() {
        addHealthRoute()
        addMetricsRoute()
    }

    /// `GET /healthz`: the process is alive and serving.
    public func addHealthRoute() {
        get("/healthz") { _, _ -> Response in
            Response(
                status: .ok,
                headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: #"{"status":"ok"}"#)))
        }
    }

    /// `GET /metrics` (Prometheus text format, version 0.0.4). The Gateway serves it on a listener of
    /// its own, so that its public port does not tell the internet its traffic and error rates.
    public func addMetricsRoute() {
        get("/metrics") { _, _ -> Response in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: Observability.registry.emitToBuffer())))
        }
    }
}
