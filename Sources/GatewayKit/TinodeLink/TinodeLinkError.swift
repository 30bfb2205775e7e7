import NIOHTTP2

/// Why an HTTP/2 connection to Tinode ended. Counted in
/// `gateway_tinode_connection_closed_total{reason}` and logged once per connection (never once
/// per user whose stream it carried).
public enum TinodeConnectionCloseReason: Sendable, Equatable {
    /// Tinode sent GOAWAY: NO_ERROR when it shuts down or ends an idle connection, ENHANCE_YOUR_CALM
    /// `too_many_pings` when it polices our keepalive, anything else for an HTTP/2 error on its side.
    case peerGoAway(code: HTTP2ErrorCode, debug: String)
    /// Tinode closed the TCP connection without a GOAWAY (crashed, killed, network cut).
    case peerClosed
    /// We cut Tinode off: more control frames than our answers and the allowance earn
    /// (``ControlFramePolicer``). Never expected from a healthy Tinode.
    case controlFrameFlood(kind: String)
    /// NIO's HTTP/2 stack found a protocol error (its own GOAWAY carries the code).
    case http2Error(code: HTTP2ErrorCode?, description: String)
    /// Our keepalive PING got no answer in time.
    case keepaliveTimeout
    /// A socket error.
    case ioError(String)
    /// We closed it: graceful shutdown, or the connection was no longer needed.
    case closedLocally

    /// The metric label: a small fixed set.
    public var label: String {
        switch self {
        case .peerGoAway: "peer_goaway"
        case .peerClosed: "peer_closed"
        case .controlFrameFlood: "control_frame_flood"
        case .http2Error: "http2_error"
        case .keepaliveTimeout: "keepalive_timeout"
        case .ioError: "io_error"
        case .closedLocally: "closed_locally"
        }
    }

    /// The HTTP/2 error code involved, for the log line.
    public var http2ErrorCode: HTTP2ErrorCode? {
        switch self {
        case .peerGoAway(let code, _): code
        case .http2Error(let code, _): code
        case .controlFrameFlood: .enhanceYourCalm
        case .peerClosed, .keepaliveTimeout, .ioError, .closedLocally: nil
        }
    }
}

extension TinodeConnectionCloseReason: CustomStringConvertible {
    public var description: String {
        switch self {
        case .peerGoAway(let code, let debug): debug.isEmpty ? "Tinode sent GOAWAY \(code)" : "Tinode sent GOAWAY \(code) (\(debug))"
        case .peerClosed: "Tinode closed the connection"
        case .controlFrameFlood(let kind): "Tinode sent more \(kind) frames than allowed"
        case .http2Error(_, let description): "HTTP/2 error: \(description)"
        case .keepaliveTimeout: "no answer to a keepalive PING"
        case .ioError(let description): "I/O error: \(description)"
        case .closedLocally: "closed by the Gateway"
        }
    }
}

/// Why one `MessageLoop` call failed. The session treats them all as a broken stream (and
/// reconnects); the cases keep the logs precise.
public enum TinodeLinkError: Error, Sendable, Equatable {
    /// No connection to Tinode could be made.
    case connectFailed(String)
    /// The connection carrying the call ended.
    case connectionLost(TinodeConnectionCloseReason)
    /// Tinode ended the call with a gRPC status other than OK.
    case callFailed(status: Int, message: String)
    /// Tinode (or something in between) reset the stream.
    case streamReset(HTTP2ErrorCode)
    /// The stream ended without gRPC's trailers, for no reason the connection knows.
    case streamEnded
    /// Tinode sent something gRPC does not allow (a non-200 head, a compressed or oversized message,
    /// bytes that are not a `ServerMsg`).
    case protocolViolation(String)
}

extension TinodeLinkError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .connectFailed(let why): "cannot connect to Tinode: \(why)"
        case .connectionLost(let reason): "connection to Tinode lost: \(reason)"
        case .callFailed(let status, let message): "Tinode ended the call with gRPC status \(status) \(message)"
        case .streamReset(let code): "Tinode reset the stream (\(code))"
        case .streamEnded: "the stream ended without a status"
        case .protocolViolation(let what): "Tinode broke gRPC's rules: \(what)"
        }
    }
}
