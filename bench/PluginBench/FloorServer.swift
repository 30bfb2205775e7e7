import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix

/// The floor under any unary gRPC call on this machine: an HTTP/2 server on NIO with no gRPC
/// library, which answers every call at once on the event loop with an empty message and
/// grpc-status 0 (no routing, no decoding, no task per call). What it reaches with `h2load` is the
/// most a plugin port written directly on NIO could hope for; the gap to grpc-swift's empty RPC is
/// what such a rewrite could win. A benchmark baseline, never a server to run.
enum FloorServer {
    /// Binds to a free loopback port and returns it with the channel to wait on.
    static func start() async throws -> (port: Int, channel: any Channel) {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                        mode: .server, connectionConfiguration: .init(), streamConfiguration: .init()
                    ) { stream in
                        stream.eventLoop.makeCompletedFuture {
                            try stream.pipeline.syncOperations.addHandler(EmptyAnswer())
                        }
                    }
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return (channel.localAddress?.port ?? 0, channel)
    }

    /// One stream: once the request has ended, headers, an empty gRPC message and the trailers.
    private final class EmptyAnswer: ChannelInboundHandler {
        typealias InboundIn = HTTP2Frame.FramePayload
        typealias OutboundOut = HTTP2Frame.FramePayload

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .headers(let headers) where headers.endStream: answer(context)
            case .data(let body) where body.endStream: answer(context)
            default: break
            }
        }

        private func answer(_ context: ChannelHandlerContext) {
            let head = HPACKHeaders([(":status", "200"), ("content-type", "application/grpc")])
            context.write(wrapOutboundOut(.headers(.init(headers: head))), promise: nil)
            var message = context.channel.allocator.buffer(capacity: 5)
            message.writeBytes([0, 0, 0, 0, 0])  // not compressed, length 0: `Unused` has no fields
            context.write(wrapOutboundOut(.data(.init(data: .byteBuffer(message)))), promise: nil)
            let trailers = HPACKHeaders([("grpc-status", "0")])
            context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: trailers, endStream: true))), promise: nil)
        }
    }
}
