import Foundation

/// How the Gateway's Tinode sessions behave. Defaults suit a Tinode next door; every value is a
/// setting of its own (see `Settings`).
public struct TinodeSessionSettings: Sendable {
    /// `hi.user_agent`: names the Gateway in Tinode's logs and presence.
    public var userAgent = "tinode-sidecar-gateway/0.1 (grpc)"
    /// `hi.ver`: the protocol version we speak.
    public var protocolVersion = "0.25"
    /// The group topic every user joins (`grp...`). Nil: users only join `me`.
    public var roomTopic: String?
    /// How long one request waits for its reply.
    public var requestTimeout: Duration = .seconds(5)
    /// A session that heard nothing from Tinode for this long sends a heartbeat (`hi`); a half-dead
    /// stream ends on it, a silent one times out. Both are then reconnected.
    public var heartbeatInterval: Duration = .seconds(30)
    /// First wait before reconnecting; doubles per failed attempt up to `reconnectMaximumDelay`,
    /// each wait jittered by +-20 %.
    public var reconnectInitialDelay: Duration = .milliseconds(100)
    public var reconnectMaximumDelay: Duration = .seconds(10)
    /// How many events a live subscriber may have unread before it is cut off.
    public var liveBufferSize = 256
    /// How long the `pub` receipt waits for Tinode's echo of the message (which carries its time)
    /// after the ack arrived.
    public var echoWait: Duration = .milliseconds(250)
    /// The page size used to catch up after a reconnect: well below Tinode's send queue of 128
    /// messages per session (a session beyond it is dropped), which also carries live traffic, as
    /// for live streams' replay pages (`RoomStream.defaultPageSize`).
    public var catchUpPageSize = RoomStream.defaultPageSize

    public init() {}
}
