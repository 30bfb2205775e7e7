import Hummingbird
import NIOCore

/// AuthPlugin's request context: Hummingbird's core plus the caller's address, which the
/// allow-list checks and the logs record.
public struct AuthPluginRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}
