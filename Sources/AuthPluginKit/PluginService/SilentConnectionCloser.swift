import NIOCore

/// Closes a plugin-port connection from which nothing was read for `timeout`.
///
/// gRPC's own connection management ends idle and unresponsive connections only gracefully: a
/// GOAWAY and a PING, then it waits for the PING's answer before closing, so a peer that never
/// answers (a bare TCP connection, or one that went silent) would stay open for good. Every live
/// HTTP/2 peer answers the keepalive PINGs that the server sends after half of `timeout` without a
/// byte read, so only a dead or silent peer reaches the deadline.
enum SilentConnectionCloser {
    /// Adds the deadline in front of the connection's gRPC pipeline; used as the transport's
    /// accepted-connection callback.
    static func install(on channel: any Channel, timeout: Duration) -> EventLoopFuture<Void> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandlers(
                [IdleStateHandler(readTimeout: TimeAmount(timeout)), CloseOnReadTimeout()], position: .first)
        }
    }

    private final class CloseOnReadTimeout: ChannelInboundHandler, Sendable {
        typealias InboundIn = NIOAny

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
                context.close(promise: nil)
            } else {
                context.fireUserInboundEventTriggered(event)
            }
        }
    }
}
