import Foundation
import GatewayKit
import Logging
import TinodeDouble
import TinodeProto

/// A Tinode double on a real gRPC socket, the production connector and a running session pool,
/// for one test. Everything is stopped when the body returns.
struct SessionHarness: Sendable {
    let double: TinodeDouble
    let connector: TinodeLink
    let pool: TinodeSessionPool
    let settings: TinodeSessionSettings
    /// The room (`grp...`), or "" when the harness made none.
    let room: String
    let roomOwner: String

    static let logger: Logger = {
        var logger = Logger(label: "gateway-tests")
        logger.logLevel = ProcessInfo.processInfo.environment["TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
        return logger
    }()

    /// Settings tuned for tests: short heartbeats so that recovery shows within seconds, and a
    /// request timeout long enough for a busy CI machine (tests of timeouts set their own).
    static func testSettings() -> TinodeSessionSettings {
        var settings = TinodeSessionSettings()
        settings.requestTimeout = .seconds(10)
        settings.heartbeatInterval = .seconds(1)
        settings.reconnectInitialDelay = .milliseconds(50)
        settings.reconnectMaximumDelay = .milliseconds(500)
        return settings
    }

    static func run<Result: Sendable>(
        settings: TinodeSessionSettings = testSettings(), poolSettings: TinodeSessionPoolSettings = .init(), createRoom: Bool = true,
        connections: Int = 2, options doubleOptions: TinodeDouble.Options = .init(),
        _ body: @Sendable (SessionHarness) async throws -> Result
    ) async throws -> Result {
        let double = try await TinodeDouble.start(options: doubleOptions)
        let owner = try double.createUser(login: "roomowner", password: "owner-password", name: "Owner")
        let room = createRoom ? double.createGroup(owner: owner, name: "general", tags: ["room:general"]) : ""
        var settings = settings
        settings.roomTopic = createRoom ? room : nil
        var options = TinodeLink.Options(host: "127.0.0.1", port: double.port)
        options.connections = connections
        let connector = TinodeLink(options: options, logger: logger)
        let pool = TinodeSessionPool(connector: connector, settings: settings, poolSettings: poolSettings, logger: logger)
        let harness = SessionHarness(
            double: double, connector: connector, pool: pool, settings: settings, room: room, roomOwner: owner)
        let services = Task {
            await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await connector.run() }
                group.addTask { try await pool.run() }
                _ = try? await group.next()
                group.cancelAll()
            }
        }
        defer {
            services.cancel()
        }
        let result = try await body(harness)
        await pool.drain()
        services.cancel()
        _ = await services.value
        await double.stop()
        return result
    }

    /// Registers a user through the pool (as the Gateway's register endpoint will) and returns
    /// their session and identity. The login is `user_<name>`, the password `pw-<name>-123`.
    func register(_ name: String) async throws -> (TinodeSession, TinodeSession.Identity) {
        try await pool.logIn(
            .register(login: "user_\(name)", password: "pw-\(name)-123", name: name.capitalized, email: "\(name)@example.com"))
    }

    /// A standalone session (outside the pool) with its own settings, for tests of one session.
    func standaloneSession(login: TinodeSession.Login, settings: TinodeSessionSettings? = nil) -> TinodeSession {
        TinodeSession(
            login: login, connector: connector, tasks: pool.backgroundTasks, settings: settings ?? self.settings,
            logger: Self.logger)
    }
}

/// Plain-text content as Tinode expects it on gRPC: a JSON string, quotes included.
func jsonText(_ text: String) -> Data {
    try! JSONEncoder().encode(text)
}

/// Waits until `condition` holds, up to `timeout`; returns whether it did.
func eventually(timeout: Duration = .seconds(5), _ condition: @Sendable () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return await condition()
}

/// Collects live messages from a subscription until `count` arrived or `timeout` passed.
func collectMessages(_ subscription: LiveSubscription, count: Int, timeout: Duration = .seconds(5)) async -> [ChatMessage] {
    await withTaskGroup(of: [ChatMessage].self) { group in
        group.addTask {
            var messages: [ChatMessage] = []
            for await event in subscription.events {
                if case .message(let message) = event {
                    messages.append(message)
                    if messages.count == count { break }
                }
            }
            return messages
        }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return []
        }
        let first = await group.next() ?? []
        group.cancelAll()
        if first.isEmpty, let second = await group.next() { return second }
        return first
    }
}
