import Foundation
import Logging
import ServiceLifecycle
import SidecarCore

/// Makes the chat room known to the session pool at start-up: `TINODE_TOPIC_ID` when set, otherwise
/// found or created by the Gateway's service account (`ChatRoomLocator`), retried with backoff while
/// Tinode is not up yet.
///
/// The service account is `TINODE_SERVICE_LOGIN`/`TINODE_SERVICE_PASSWORD`; in development, when they
/// are unset, the Gateway registers an account of its own once and keeps its credentials in the
/// token store, so that restarts and other Gateways use the same one.
public final class ChatRoomService: Service {
    public enum Account: Sendable {
        case configured(ServiceAccountCredentials)
        /// Generated on first start and kept in `store`.
        case selfRegistered(store: any ServiceAccountStore)
    }

    private let pool: TinodeSessionPool
    private let connector: any TinodeStreamOpening
    private let settings: TinodeSessionSettings
    private let configuredTopic: String?
    private let account: Account?
    private let logger: Logger

    /// - Parameters:
    ///   - configuredTopic: `TINODE_TOPIC_ID`; when set, no account is needed.
    ///   - account: who finds or creates the room otherwise.
    public init(
        pool: TinodeSessionPool, connector: any TinodeStreamOpening, settings: TinodeSessionSettings, configuredTopic: String?,
        account: Account?, logger: Logger
    ) {
        self.pool = pool
        self.connector = connector
        var settings = settings
        settings.roomTopic = nil  // the service session itself joins no room
        self.settings = settings
        self.configuredTopic = configuredTopic
        self.account = account
        self.logger = logger
    }

    public func run() async throws {
        if let configuredTopic {
            await pool.setRoom(configuredTopic)
            logger.info("chat room from configuration", metadata: ["topic": "\(configuredTopic)"])
        } else {
            await pool.expectRoom()
            var delay = Duration.milliseconds(500)
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                do {
                    let topic = try await locateOnce()
                    await pool.setRoom(topic)
                    logger.info("chat room ready", metadata: ["topic": "\(topic)", "tag": "\(ChatRoomLocator.tag)"])
                    break
                } catch TinodeSessionError.validationRequired {
                    // Tinode requires a validated e-mail address for every login (acc_validation
                    // required), so an account without one cannot find or create the room.
                    logger.error(
                        "the service account's e-mail address is not validated, and Tinode requires it: set TINODE_TOPIC_ID, or TINODE_SERVICE_LOGIN and TINODE_SERVICE_PASSWORD of an account whose address is validated (README, Deployment); retrying",
                        metadata: ["retry_in": "\(delay)"])
                    let wait = delay
                    let waitedFully = (try? await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }) != nil
                    if !waitedFully { break }
                    delay = min(delay * 2, .seconds(60))
                } catch {
                    logger.warning("chat room not available yet; retrying", metadata: ["error": "\(error)", "retry_in": "\(delay)"])
                    // Shutting down must not wait for the retry.
                    let wait = delay
                    let waitedFully = (try? await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }) != nil
                    if !waitedFully { break }
                    delay = min(delay * 2, .seconds(15))
                }
            }
        }
        try? await gracefulShutdown()
    }

    /// One attempt: log in as the service account (registering it first when it is ours and new),
    /// find or create the room, and log out again (detaching from `me` records `lastseen`, which keeps
    /// Tinode's account garbage collection away from the room's owner).
    public func locateOnce() async throws -> String {
        guard let account else {
            throw TinodeSessionError.protocolViolation("no TINODE_TOPIC_ID and no service account to find the room")
        }
        let session = try await serviceSession(account)
        do {
            let topic = try await ChatRoomLocator.locate(using: session)
            await session.close()
            return topic
        } catch {
            await session.close()
            throw error
        }
    }

    private func serviceSession(_ account: Account) async throws -> TinodeSession {
        switch account {
        case .configured(let credentials):
            let session = makeSession(.basic(login: credentials.login, password: credentials.password))
            try await session.connect()
            return session
        case .selfRegistered(let store):
            let credentials = try await store.storeIfAbsent(ServiceAccountCredentials.generate())
            let login = makeSession(.basic(login: credentials.login, password: credentials.password))
            do {
                try await login.connect()
                return login
            } catch TinodeSessionError.authenticationFailed {
                // Not registered yet (first start): register it now. Another Gateway doing the same at
                // this moment makes ours a 409, and the next attempt logs in.
                let register = makeSession(
                    .register(
                        login: credentials.login, password: credentials.password, name: "Gateway service",
                        email: "\(credentials.login)@gateway.invalid"))
                try await register.connect()
                logger.notice(
                    "registered the Gateway's own Tinode service account (development); set TINODE_SERVICE_LOGIN in production",
                    metadata: ["login": "\(credentials.login)"])
                return register
            }
        }
    }

    private func makeSession(_ login: TinodeSession.Login) -> TinodeSession {
        TinodeSession(login: login, connector: connector, tasks: pool.backgroundTasks, settings: settings, logger: logger)
    }
}
