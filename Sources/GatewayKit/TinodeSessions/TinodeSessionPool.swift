import Foundation
import Logging
import ServiceLifecycle
import TinodeProto

/// Limits of the session pool.
public struct TinodeSessionPoolSettings: Sendable {
    /// Most sessions at once; beyond it the least recently used one is closed (one without live
    /// subscribers when there is such).
    public var maximumSessions = 10_000
    /// A session with no request and no live subscriber for this long is closed.
    public var idleTimeout: Duration = .seconds(300)
    /// How often idle sessions are looked for.
    public var sweepInterval: Duration = .seconds(5)

    public init() {}
}

/// The Gateway's sessions with Tinode, one per active user: created on first use, closed when idle,
/// on logout or revocation, beyond the maximum (least recently used first), and all of them on
/// graceful shutdown.
public actor TinodeSessionPool: Service {
    private struct Entry {
        let session: TinodeSession
        var lastUsed: ContinuousClock.Instant
    }

    private let connector: any TinodeStreamOpening
    private var settings: TinodeSessionSettings
    private let poolSettings: TinodeSessionPoolSettings
    private let metrics: TinodeSessionMetrics
    private let logger: Logger
    /// Where sessions run their background work (heartbeats, reconnects); runs inside `run()`.
    public nonisolated let backgroundTasks = BackgroundTasks()
    private var entries: [String: Entry] = [:]
    private var draining = false

    public init(
        connector: any TinodeStreamOpening, settings: TinodeSessionSettings, poolSettings: TinodeSessionPoolSettings = .init(),
        metrics: TinodeSessionMetrics = .init(), logger: Logger
    ) {
        self.connector = connector
        self.settings = settings
        self.poolSettings = poolSettings
        self.metrics = metrics
        self.logger = logger
    }

    /// Sessions in the pool.
    public var count: Int { entries.count }

    /// The chat room users join; nil until it is known.
    public var roomTopic: String? { settings.roomTopic }

    /// When set, sessions are refused until `setRoom(_:)` was called: the Gateway finds or creates the
    /// room at start-up, and a session made before would never join it.
    private var waitsForRoom = false

    /// Makes new sessions wait for `setRoom(_:)`.
    public func expectRoom() {
        waitsForRoom = settings.roomTopic == nil
    }

    /// The room every new session joins.
    public func setRoom(_ topic: String) {
        settings.roomTopic = topic
        waitsForRoom = false
    }

    private func checkAcceptingSessions() throws {
        guard !draining else { throw TinodeSessionError.closed }
        if waitsForRoom { throw TinodeSessionError.unavailable(retryAfter: .seconds(1)) }
    }

    /// The user's session, created (not yet connected) when there is none. `token` is the user's
    /// Tinode token from the token store; it is used when the session has to log in.
    public func session(userID: String, token: Data) throws -> TinodeSession {
        try checkAcceptingSessions()
        let now = ContinuousClock.now
        if let entry = entries[userID] {
            entries[userID]?.lastUsed = now
            return entry.session
        }
        let session = makeSession(.token(token), userID: userID)
        insert(session, userID: userID, now: now)
        return session
    }

    /// Logs in with a password or registers, on a new session that then serves the user; returns
    /// the session and who it is (with the fresh Tinode token).
    public func logIn(_ login: TinodeSession.Login) async throws -> (TinodeSession, TinodeSession.Identity) {
        try checkAcceptingSessions()
        let session = makeSession(login, userID: nil)
        let identity = try await session.connect()
        if draining {
            await session.close()
            throw TinodeSessionError.closed
        }
        if let existing = entries[identity.userID] {
            // The user already has a session: keep it (its subscribers are attached to it), close
            // the one that was only needed to check the password.
            entries[identity.userID]?.lastUsed = .now
            await session.close()
            return (existing.session, identity)
        }
        insert(session, userID: identity.userID, now: .now)
        return (session, identity)
    }

    /// Asks Tinode for a new confirmation code of `email` on a stream of its own, authenticated by
    /// the token of a 300 answer (which cannot log in); Tinode's ctrl is returned.
    public func requestCode(userID: String, token: Data, email: String) async throws -> Pbx_ServerCtrl {
        try checkAcceptingSessions()
        let request = TinodeAccountRequest(connector: connector, settings: settings)
        return try await request.send(kind: "acc") { id in
            ClientMessages.requestCode(id: id, userID: userID, token: token, email: email)
        }
    }

    /// The session of a user if there is one, without creating it.
    public func existingSession(userID: String) -> TinodeSession? {
        entries[userID]?.session
    }

    /// Closes the user's session (logout, revocation); its live subscribers end.
    public func close(userID: String) async {
        guard let entry = entries.removeValue(forKey: userID) else { return }
        metrics.activeSessions.record(entries.count)
        await entry.session.close()
    }

    private func makeSession(_ login: TinodeSession.Login, userID: String?) -> TinodeSession {
        var sessionLogger = logger
        if let userID { sessionLogger[metadataKey: "user"] = "\(userID)" }
        return TinodeSession(
            login: login, connector: connector, tasks: backgroundTasks, settings: settings, metrics: metrics, logger: sessionLogger)
    }

    private func insert(_ session: TinodeSession, userID: String, now: ContinuousClock.Instant) {
        entries[userID] = Entry(session: session, lastUsed: now)
        while entries.count > poolSettings.maximumSessions, let victim = leastRecentlyUsed(excluding: userID) {
            let entry = entries.removeValue(forKey: victim)
            logger.debug("closing least recently used Tinode session", metadata: ["user": "\(victim)"])
            if let session = entry?.session { backgroundTasks.spawn { await session.close() } }
        }
        metrics.activeSessions.record(entries.count)
    }

    /// The least recently used user, preferring sessions nobody listens to.
    private func leastRecentlyUsed(excluding userID: String) -> String? {
        let candidates = entries.filter { $0.key != userID }
        let quiet = candidates.filter { $0.value.session.subscriberCount == 0 }
        let pool = quiet.isEmpty ? candidates : quiet
        return pool.min { $0.value.lastUsed < $1.value.lastUsed }?.key
    }

    /// Closes sessions idle for longer than the idle timeout (no request, no live subscriber) and
    /// forgets closed ones. Returns how many were closed.
    @discardableResult
    public func sweep(now: ContinuousClock.Instant = .now) async -> Int {
        var closed = 0
        for (userID, entry) in entries {
            if await entry.session.isClosed {
                entries.removeValue(forKey: userID)
                continue
            }
            guard now - entry.lastUsed >= poolSettings.idleTimeout, entry.session.subscriberCount == 0,
                await entry.session.pendingCount == 0
            else { continue }
            entries.removeValue(forKey: userID)
            await entry.session.close()
            closed += 1
        }
        metrics.activeSessions.record(entries.count)
        return closed
    }

    /// Runs the background work of all sessions and the idle sweep; on graceful shutdown closes every
    /// session (half-closing its stream) and returns.
    public func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await self.backgroundTasks.run() }
            group.addTask {
                // Ends quietly when cancelled: a CancellationError here would fail the service group
                // (and the program's exit status) on an ordinary shutdown.
                while (try? await Task.sleep(for: self.poolSettings.sweepInterval)) != nil {
                    await self.sweep()
                }
            }
            try? await gracefulShutdown()
            await drain()
            group.cancelAll()
        }
    }

    /// Closes every session and refuses new ones.
    public func drain() async {
        draining = true
        let all = entries
        entries.removeAll()
        metrics.activeSessions.record(0)
        for entry in all.values { await entry.session.close() }
        logger.info("Tinode sessions closed", metadata: ["count": "\(all.count)"])
    }
}
