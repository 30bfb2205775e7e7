import NIOCore
import Synchronization

/// The plugin port's open connections: the cap on how many there may be, and the list graceful
/// shutdown drains.
///
/// Each connection costs a socket, NIO's HTTP/2 state and up to `maximumConcurrentStreams` calls,
/// so their number is capped (`AUTHPLUGIN_GRPC_MAX_CONNECTIONS`). Connections from outside
/// `AUTHPLUGIN_ALLOWED_NETWORKS` have a small share of their own: without it, peers the port will
/// never serve could take every place and lock Tinode out.
final class PluginConnections: Sendable {
    /// One connection the drain can reach.
    struct Open: Sendable {
        let channel: any Channel
        let guardHandler: NIOLoopBound<PluginConnectionGuard>
        let outsider: Bool
    }

    /// Why a connection was not admitted.
    enum Refusal: Error, Equatable {
        /// `maximumConnections` are open.
        case full
        /// The peer is outside the allow-list and the outsiders' share is taken.
        case outsidersFull
    }

    private struct State {
        var open: [ObjectIdentifier: Open] = [:]
        var outsiders = 0
    }

    private let maximum: Int
    private let maximumOutsiders: Int
    private let state = Mutex(State())

    init(maximum: Int, maximumOutsiders: Int) {
        self.maximum = maximum
        self.maximumOutsiders = maximumOutsiders
    }

    /// Takes a place for `connection` (until its channel closes), or says why there is none.
    func admit(_ connection: Open) -> Result<Void, Refusal> {
        let key = ObjectIdentifier(connection.channel)
        let admitted = state.withLock { state -> Result<Void, Refusal> in
            guard state.open.count < maximum else { return .failure(.full) }
            if connection.outsider {
                guard state.outsiders < maximumOutsiders else { return .failure(.outsidersFull) }
                state.outsiders += 1
            }
            state.open[key] = connection
            return .success(())
        }
        if case .success = admitted {
            connection.channel.closeFuture.whenComplete { [self] _ in
                state.withLock { state in
                    if state.open.removeValue(forKey: key)?.outsider == true { state.outsiders -= 1 }
                }
            }
        }
        return admitted
    }

    var all: [Open] { state.withLock { Array($0.open.values) } }

    var isEmpty: Bool { state.withLock { $0.open.isEmpty } }

    var count: Int { state.withLock { $0.open.count } }
}
