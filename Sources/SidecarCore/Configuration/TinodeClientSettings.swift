import Foundation

/// How the Gateway talks to Tinode: request timeout, heartbeat, keepalive, the session pool, and
/// the service account that looks after the chat room.
public struct TinodeClientSettings: Sendable {
    public var requestTimeout: Duration
    public var heartbeatInterval: Duration
    /// gRPC keepalive interval; nil = off (Tinode's default drops clients that ping under 5 minutes).
    public var keepalive: Duration?
    public var connections: Int
    public var serviceLogin: String?
    public var servicePassword: SecretBytes?
    public var sessionIdleTimeout: Duration
    public var maximumSessions: Int
    public var liveBufferSize: Int
}

extension TinodeClientSettings {
    /// `TINODE_*` and the Gateway's session-pool settings.
    init(reader: SettingsReader) throws {
        let keepalive = try reader.int(Settings.tinodeKeepalive, in: 0...86_400)
        if keepalive == 1 {
            // Tinode allows one client PING a second at most; timers jitter, and three PINGs that come
            // a little early end the connection (GOAWAY too_many_pings).
            throw ConfigurationError(setting: Settings.tinodeKeepalive.name, reason: "must be 0 (off) or at least 2 seconds")
        }
        let serviceLogin = reader.string(Settings.tinodeServiceLogin)
        let servicePassword = reader.string(Settings.tinodeServicePassword).map(SecretBytes.init)
        if (serviceLogin == nil) != (servicePassword == nil) {
            throw ConfigurationError(
                setting: Settings.tinodeServiceLogin.name, reason: "TINODE_SERVICE_LOGIN and TINODE_SERVICE_PASSWORD go together")
        }
        self.init(
            requestTimeout: .milliseconds(try reader.int(Settings.tinodeRequestTimeout, in: 100...120_000)),
            heartbeatInterval: .seconds(try reader.int(Settings.tinodeHeartbeat, in: 1...3600)),
            keepalive: keepalive == 0 ? nil : .seconds(keepalive),
            connections: try reader.int(Settings.tinodeConnections, in: 1...64),
            serviceLogin: serviceLogin,
            servicePassword: servicePassword,
            sessionIdleTimeout: .seconds(try reader.int(Settings.gatewaySessionIdle, in: 1...86_400)),
            maximumSessions: try reader.int(Settings.gatewayMaxSessions, in: 1...1_000_000),
            liveBufferSize: try reader.int(Settings.gatewayLiveBuffer, in: 1...100_000))
    }
}
