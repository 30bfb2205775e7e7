import Foundation
import Logging
import ServiceLifecycle
import SidecarCore

/// The Gateway's Tinode side, built from the configuration: the link to Tinode, the session pool
/// and the service that makes the chat room known. Its services go into the program's service group
/// in this order, so that on shutdown the room service stops first, then the pool closes every
/// session, then the connections close.
public struct TinodeLayer: Sendable {
    public let connector: TinodeLink
    public let pool: TinodeSessionPool
    public let roomService: ChatRoomService

    public var services: [any Service] { [connector, pool, roomService] }

    public init(configuration: SidecarConfiguration, serviceAccounts: any ServiceAccountStore, logger: Logger) throws {
        let client = configuration.tinodeClient
        var options = TinodeLink.Options(host: configuration.tinodeGRPCAddress.host, port: configuration.tinodeGRPCAddress.port)
        options.connections = client.connections
        options.keepalive = client.keepalive
        connector = TinodeLink(options: options, logger: logger)

        var settings = TinodeSessionSettings()
        settings.requestTimeout = client.requestTimeout
        settings.heartbeatInterval = client.heartbeatInterval
        settings.liveBufferSize = client.liveBufferSize
        settings.roomTopic = configuration.tinodeTopicID
        var poolSettings = TinodeSessionPoolSettings()
        poolSettings.idleTimeout = client.sessionIdleTimeout
        poolSettings.maximumSessions = client.maximumSessions
        pool = TinodeSessionPool(connector: connector, settings: settings, poolSettings: poolSettings, logger: logger)

        let account: ChatRoomService.Account?
        if let login = client.serviceLogin, let password = client.servicePassword {
            account = .configured(ServiceAccountCredentials(login: login, password: String(decoding: password.bytes, as: UTF8.self)))
        } else if configuration.tinodeTopicID != nil {
            account = nil
        } else if configuration.environment == .development {
            account = .selfRegistered(store: serviceAccounts)
        } else {
            throw ConfigurationError(
                setting: Settings.tinodeServiceLogin.name,
                reason: "production needs TINODE_TOPIC_ID, or TINODE_SERVICE_LOGIN and TINODE_SERVICE_PASSWORD to find or create the room")
        }
        roomService = ChatRoomService(
            pool: pool, connector: connector, settings: settings, configuredTopic: configuration.tinodeTopicID, account: account,
            logger: logger)
    }
}
