import Foundation
import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix
import SwiftProtobuf
import TinodeProto

/// The floor under any unary gRPC call on this machine: an HTTP/2 server on NIO with no gRPC
/// library (no routing table, no interceptors, no async sequences). A benchmark baseline, never a
/// server to run.
///
/// * `bench.Empty/Call` (and any other path): answered at once on the event loop with an empty
///   message and grpc-status 0. The most any server on NIO could do per call.
/// * `pbx.Plugin/FireHose`: the request body is decoded as a `ClientReq`, a task (as a plugin port
///   on NIO would start for the policies that may wait for Valkey) answers `CONTINUE`, encoded,
///   back on the event loop. What such a port's own machinery would cost, without the policies.
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
                            try stream.pipeline.syncOperations.addHandler(Call())
                        }
                    }
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return (channel.localAddress?.port ?? 0, channel)
    }

    /// One stream: once the request has ended, headers, one gRPC message and the trailers.
    private final class Call: ChannelInboundHandler {
        typealias InboundIn = HTTP2Frame.FramePayload
        typealias OutboundOut = HTTP2Frame.FramePayload

        private var path = ""
        private var body = ByteBuffer()

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .headers(let headers):
                path = headers.headers.first(name: ":path") ?? ""
                if headers.endStream { ended(context) }
            case .data(let frame):
                if case .byteBuffer(var bytes) = frame.data { body.writeBuffer(&bytes) }
                if frame.endStream { ended(context) }
            default:
                break
            }
        }

        private func ended(_ context: ChannelHandlerContext) {
            guard path == "/pbx.Plugin/FireHose" else {
                return answer(context, message: [])
            }
            // The gRPC frame: 1 byte compressed flag, 4 bytes length, the message.
            guard body.readableBytes >= 5, let bytes = body.getBytes(at: body.readerIndex + 5, length: body.readableBytes - 5),
                (try? Pbx_ClientReq(serializedBytes: bytes)) != nil
            else { return answer(context, message: nil) }
            let loop = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let eventLoop = context.eventLoop
            Task {
                // Where a port's policies would run; here every message goes through.
                let encoded: [UInt8] = (try? Pbx_ServerResp.with { $0.status = .continue }.serializedBytes()) ?? []
                eventLoop.execute {
                    let (handler, context) = loop.value
                    handler.answer(context, message: encoded)
                }
            }
        }

        /// `message` nil: grpc-status 3 (the request could not be read).
        private func answer(_ context: ChannelHandlerContext, message: [UInt8]?) {
            let head = HPACKHeaders([(":status", "200"), ("content-type", "application/grpc")])
            context.write(wrapOutboundOut(.headers(.init(headers: head))), promise: nil)
            if let message {
                var framed = context.channel.allocator.buffer(capacity: 5 + message.count)
                framed.writeInteger(UInt8(0))
                framed.writeInteger(UInt32(message.count))
                framed.writeBytes(message)
                context.write(wrapOutboundOut(.data(.init(data: .byteBuffer(framed)))), promise: nil)
            }
            let trailers = HPACKHeaders([("grpc-status", message == nil ? "3" : "0")])
            context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: trailers, endStream: true))), promise: nil)
        }
    }
}
