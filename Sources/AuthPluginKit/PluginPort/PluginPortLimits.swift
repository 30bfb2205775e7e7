import GRPCOverHTTP2
import NIOCore
import NIOHTTP2

/// What one caller may take of the plugin port: connections, calls at a time, request size. Only
/// Tinode should ever reach the port, but a mistake in the network (or a compromised host on it)
/// must not be able to take AuthPlugin's memory or its event loops.
public struct PluginPortLimits: Sendable, Equatable {
    /// Calls in progress on one connection (`AUTHPLUGIN_GRPC_MAX_STREAMS`): advertised as HTTP/2's
    /// SETTINGS_MAX_CONCURRENT_STREAMS, which Tinode's grpc-go client honours by queueing its calls.
    /// The port answers a FireHose in well under a millisecond, so even 22,000 calls a second keep
    /// some tens in flight; 100 is also what grpc-go assumes before it reads our SETTINGS.
    public var maximumConcurrentStreams: Int

    /// The largest request message (`AUTHPLUGIN_GRPC_MAX_MESSAGE_BYTES`); larger ones are answered
    /// `RESOURCE_EXHAUSTED`.
    ///
    /// It must exceed the largest request Tinode builds, or those requests **fail open**: with the
    /// shipped `failure_code: 0` a FireHose that fails lets the client's message through unchecked
    /// (no throttling, no size guard, no canonical-name check). A client message is at most
    /// `max_message_size` (131,072 bytes in tinode-config), but Tinode re-encodes its JSON values
    /// with Go's `json.Marshal`, which writes each `<`, `>` and `&` as six bytes (`\u003c`); and
    /// the request carries the session's user agent, device id and language from earlier `{hi}`
    /// messages. So a ClientReq can reach about 8 x `max_message_size` (1 MiB with tinode-config's
    /// value): 2 MiB leaves twice that, and bounds a connection of 100 calls to 200 MiB of requests.
    public var maximumMessageBytes: Int

    /// Open connections on the port (`AUTHPLUGIN_GRPC_MAX_CONNECTIONS`); one more is closed as soon
    /// as it is accepted. Tinode keeps one connection per plugin; the rest is room for restarts
    /// (an old connection still draining) and for several Tinode nodes.
    public var maximumConnections: Int

    /// How often a kind of warning (a refused caller, a full port, a connection cut off) is logged
    /// at most; the ones in between are counted and their number logged with the next.
    public var warningInterval: Duration

    public init(
        maximumConcurrentStreams: Int = 100, maximumMessageBytes: Int = 2 << 20, maximumConnections: Int = 256,
        warningInterval: Duration = .seconds(60)
    ) {
        precondition(
            maximumConcurrentStreams > 0 && maximumMessageBytes > 0 && maximumConnections > 0, "plugin port limits must be positive")
        self.maximumConcurrentStreams = maximumConcurrentStreams
        self.maximumMessageBytes = maximumMessageBytes
        self.maximumConnections = maximumConnections
        self.warningInterval = warningInterval
    }

    /// Connections from outside `AUTHPLUGIN_ALLOWED_NETWORKS` open at once: a sixteenth of the
    /// connections, at least one. They are only ever answered `PERMISSION_DENIED` (which tells an
    /// operator that the allow-list is wrong), so a few suffice, and however many such peers
    /// connect, the other fifteen sixteenths stay free for Tinode.
    var maximumOutsiderConnections: Int { max(1, maximumConnections / 16) }

    /// NIO's HTTP/2 settings of one plugin-port connection.
    var connectionConfiguration: NIOHTTP2Handler.ConnectionConfiguration {
        var connection = NIOHTTP2Handler.ConnectionConfiguration()
        connection.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: maximumConcurrentStreams),
            // Tinode's requests carry a handful of short headers; 16 KiB is NIO's default. A larger
            // header block is a connection error (GOAWAY), which ends only that connection.
            HTTP2Setting(parameter: .maxHeaderListSize, value: 16384),
        ]
        // NIO's own count (200 control frames per 30 s) would cut Tinode off after about 200 calls:
        // it stays only as a backstop against raw floods, and `ControlFramePolicer` applies the real rule.
        HTTP2FloodLimits.applyBackstop(to: &connection)
        return connection
    }

    /// NIO's per-stream settings, with its rapid-reset rule spelled out: more than 200 RST_STREAM
    /// frames from the peer within 30 s is a flood (CVE-2023-44487), answered with GOAWAY
    /// `ENHANCE_YOUR_CALM`; ``PluginConnectionGuard`` then closes the connection. Tinode resets a
    /// call only when its `timeout` passed, so only a plugin already failing its deadlines
    /// that often would see its connection cut, and Tinode dials again.
    var streamConfiguration: NIOHTTP2Handler.StreamConfiguration {
        var stream = NIOHTTP2Handler.StreamConfiguration()
        stream.streamResetFrameRateLimit.maximumCount = 200
        stream.streamResetFrameRateLimit.windowLength = .seconds(30)
        return stream
    }
}
