import NIOCore
import NIOHTTP2

/// A stream beyond the connection's limit on calls at once: reset with `REFUSED_STREAM` (RFC 9113,
/// 5.1.2), which tells a gRPC client that nothing was processed and it may try again.
///
/// NIO applies our SETTINGS_MAX_CONCURRENT_STREAMS only once the peer acknowledged the SETTINGS
/// frame that carries it (before that: 100), so a peer that never acknowledges could otherwise open
/// more streams than the port advertises. The server counts the open streams itself and puts this
/// handler, instead of a call, on each one too many.
final class RefusedStreamHandler: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    private var refused = false

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { refuse(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        refuse(context)
        context.fireChannelActive()
    }

    /// The reset can only be written once NIO has made the stream active.
    private func refuse(_ context: ChannelHandlerContext) {
        guard !refused else { return }
        refused = true
        context.writeAndFlush(wrapOutboundOut(.rstStream(.refusedStream)), promise: nil)
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // The request of a refused stream is not read.
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
