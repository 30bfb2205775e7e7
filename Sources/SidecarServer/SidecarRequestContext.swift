import Hummingbird
import NIOCore

/// The request context of both programs: Hummingbird's core plus the caller's address, which
/// AuthPlugin's allow-list, the Gateway's per-address rate limits and the request logs use.
public struct SidecarRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// The caller's IP address without the port ("unknown" when there is none, e.g. a Unix socket).
    public var callerAddress: String {
        remoteAddress?.ipAddress ?? "unknown"
    }
}
