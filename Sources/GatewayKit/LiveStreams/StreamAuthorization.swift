import Foundation
import SidecarCore
import Synchronization

/// Why a live stream's access token stopped working: the stream ends with it (SSE: a final
/// `revoked` event with this reason; WebSocket: close code 4001 with it as the reason).
enum TokenEnd: String, Sendable, Equatable {
    /// Logout, logout-all, refresh-token reuse, account deletion, or refreshed away (its grace over).
    case revoked = "token_revoked"
    /// Its `exp` passed.
    case expired = "token_expired"
}

/// The access token a live stream was opened with, watched while the stream runs, so that a
/// stream lives exactly as long as a request with the same token would succeed. Three things end
/// it, whichever comes first: a revocation notice naming its user (and login), the token's expiry,
/// and a periodic look at the token store that no longer finds its access id (which catches what
/// a lost notice would have said, and tokens retired by a refresh).
final class StreamAuthorization: Sendable {
    let userID: String
    /// The login (refresh family) the token belongs to; nil for records without one.
    let familyID: String?
    let accessID: String
    let expiresAt: Date

    private struct State {
        var ended: TokenEnd?
        var waiter: CheckedContinuation<TokenEnd?, Never>?
        var closed = false
    }

    private let state = Mutex(State())
    private let registry: StreamAuthorizations

    fileprivate init(caller: Caller, registry: StreamAuthorizations) {
        self.userID = caller.userID
        self.familyID = caller.record.refreshFamilyID
        self.accessID = caller.record.accessID
        self.expiresAt = caller.claims.expiresAt
        self.registry = registry
    }

    deinit {
        registry.remove(self)
    }

    /// Why the token stopped working, once it did.
    var endReason: TokenEnd? { state.withLock { $0.ended } }

    /// Marks the token as ended (the first reason counts) and wakes the watcher.
    func end(_ reason: TokenEnd) {
        let waiter = state.withLock { state -> CheckedContinuation<TokenEnd?, Never>? in
            guard state.ended == nil else { return nil }
            state.ended = reason
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: reason)
    }

    /// Whether `notice` ends this token.
    func isEnded(by notice: RevocationNotice) -> Bool {
        notice.userID == userID && (notice.familyID == nil || notice.familyID == familyID || notice.familyID == accessID)
    }

    /// Waits until the token ends: `end(_:)`, its expiry, or a check every `recheckEvery` that
    /// `isLive` answers false. Returns nil when the calling task is cancelled first.
    func watch(recheckEvery interval: Duration, isLive: @escaping @Sendable () async -> Bool) async -> TokenEnd? {
        await withTaskGroup(of: Void.self) { group in
            let expiresAt = self.expiresAt
            group.addTask {
                let seconds = max(0, expiresAt.timeIntervalSinceNow)
                if (try? await Task.sleep(for: .milliseconds(Int64((seconds * 1000).rounded(.up))))) != nil {
                    self.end(.expired)
                }
            }
            group.addTask {
                while (try? await Task.sleep(for: interval)) != nil {
                    if await !isLive() {
                        self.end(.revoked)
                        return
                    }
                }
            }
            let reason = await ended()
            group.cancelAll()
            return reason
        }
    }

    /// Suspends until `end(_:)`; nil when cancelled.
    private func ended() async -> TokenEnd? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let now = state.withLock { state -> TokenEnd?? in
                    if let ended = state.ended { return .some(ended) }
                    if Task.isCancelled { return .some(nil) }
                    state.waiter = continuation
                    return .none
                }
                if let now { continuation.resume(returning: now) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<TokenEnd?, Never>? in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: nil)
        }
    }
}

/// The tokens of this instance's open live streams, by user, so that a revocation notice reaches
/// the streams it names at once.
final class StreamAuthorizations: Sendable {
    private let open = Mutex<[String: [ObjectIdentifier: Weak]]>([:])

    /// Held weakly: a stream that ends drops its authorization, and with it its entry.
    private struct Weak: @unchecked Sendable {
        weak var authorization: StreamAuthorization?
    }

    init() {}

    /// Watches the caller's token for a new stream.
    func authorize(_ caller: Caller) -> StreamAuthorization {
        let authorization = StreamAuthorization(caller: caller, registry: self)
        open.withLock { $0[caller.userID, default: [:]][ObjectIdentifier(authorization)] = Weak(authorization: authorization) }
        return authorization
    }

    /// Ends every open stream whose token `notice` names; returns how many.
    @discardableResult
    func end(_ notice: RevocationNotice) -> Int {
        let named = open.withLock { open in (open[notice.userID] ?? [:]).values.compactMap(\.authorization) }
            .filter { $0.isEnded(by: notice) }
        for authorization in named { authorization.end(.revoked) }
        return named.count
    }

    /// Every open stream's token (for a check after notices may have been missed).
    func all() -> [StreamAuthorization] {
        open.withLock { open in open.values.flatMap { $0.values.compactMap(\.authorization) } }
    }

    /// Open streams of `user` on this instance.
    func count(user: String) -> Int {
        open.withLock { $0[user]?.count ?? 0 }
    }

    /// Open streams of `user` whose token still works.
    func liveCount(user: String) -> Int {
        open.withLock { open in (open[user] ?? [:]).values.compactMap(\.authorization) }.filter { $0.endReason == nil }.count
    }

    fileprivate func remove(_ authorization: StreamAuthorization) {
        let id = ObjectIdentifier(authorization)
        open.withLock { open in
            open[authorization.userID]?[id] = nil
            if open[authorization.userID]?.isEmpty == true { open[authorization.userID] = nil }
        }
    }
}
