import NIOCore
import Synchronization

extension TinodeDouble {
    /// Cuts every client connection at once, without a GOAWAY, while the server keeps serving: what
    /// a client sees when its HTTP/2 connection to Tinode is lost (a reset, a middlebox, a crashed
    /// node behind an address). Every stream on those connections ends; state is kept, and clients
    /// that connect again are served as before.
    public func dropConnections() {
        wireTally.connections.closeAll()
    }

    /// Client connections open right now.
    public var openConnectionCount: Int {
        wireTally.connections.count
    }
}

/// The double's accepted connections, for `dropConnections()`.
final class ClientConnections: Sendable {
    private let open = Mutex<[ObjectIdentifier: any Channel]>([:])

    var count: Int { open.withLock { $0.count } }

    func register(_ channel: any Channel) {
        let key = ObjectIdentifier(channel)
        open.withLock { $0[key] = channel }
        channel.closeFuture.whenComplete { [self] _ in _ = open.withLock { $0.removeValue(forKey: key) } }
    }

    func closeAll() {
        for channel in open.withLock({ Array($0.values) }) { channel.close(promise: nil) }
    }
}
