import HTTPTypes
import Hummingbird
import SidecarCore
import SidecarServer

/// The Gateway's request context: the one both programs share.
public typealias GatewayRequestContext = SidecarRequestContext

extension GatewayRequestContext {
    /// The client a request came from as the per-client rate limits count it: the socket's peer,
    /// or, when that is a trusted proxy (`TRUSTED_PROXIES`), the client the proxy names in
    /// `X-Forwarded-For` or `Forwarded` (``ClientAddressResolver``). Nil when the socket has no IP
    /// address.
    func client(of request: Request, resolver: ClientAddressResolver) -> ClientIP? {
        resolver.client(
            peer: remoteAddress?.ipAddress, xForwardedFor: request.headers[values: Self.xForwardedFor],
            forwarded: request.headers[values: Self.forwarded])
    }

    private static let xForwardedFor = HTTPField.Name("X-Forwarded-For")!
    private static let forwarded = HTTPField.Name("Forwarded")!
}
