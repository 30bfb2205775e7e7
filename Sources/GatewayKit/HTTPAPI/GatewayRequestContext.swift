import Hummingbird
import NIOCore

/// The Gateway's request context: Hummingbird's core plus the caller's address, which the
/// per-address rate limits and the logs use.
public struct GatewayRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// The address without the port, for rate-limit keys.
    var callerAddress: String {
        remoteAddress?.ipAddress ?? "unknown"
    }
}
