import GRPCCore
import SwiftProtobuf

/// What a unary RPC answers: at once, decided on the connection's event loop, or later, from a
/// task, when the answer has to wait for something (Valkey).
///
/// FireHose is called before every client message Tinode processes, and nearly every answer
/// (`CONTINUE` for a `{pub}`, a `{hi}`, a `{sub}`) needs nothing but the message: answering those
/// on the event loop saves a task and two thread hops per call.
public enum UnaryAnswer<Output: Sendable>: Sendable {
    case now(Output)
    case later(@Sendable () async -> Output)
}

/// One RPC of a ``PluginGRPCServer``: its path, and how a request body becomes an answer.
public struct UnaryRoute: Sendable {
    /// The encoded answer, or the error (its status) that ends the call without one.
    typealias Outcome = Result<[UInt8], RPCError>

    /// `/package.Service/Method`, as in the request's `:path`.
    let path: String
    let answer: @Sendable ([UInt8]) -> UnaryAnswer<Outcome>

    /// An RPC that takes one protobuf message and answers another.
    public init<Input: SwiftProtobuf.Message, Output: SwiftProtobuf.Message>(
        _ method: MethodDescriptor, _ handler: @escaping @Sendable (Input) -> UnaryAnswer<Output>
    ) {
        path = "/" + method.fullyQualifiedMethod
        answer = { bytes in
            let request: Input
            do {
                request = try Input(serializedBytes: bytes)
            } catch {
                return .now(.failure(RPCError(code: .internalError, message: "the request is not a valid \(Input.protoMessageName)")))
            }
            switch handler(request) {
            case .now(let response): return .now(Self.encoded(response))
            case .later(let work): return .later { Self.encoded(await work()) }
            }
        }
    }

    private static func encoded(_ message: some SwiftProtobuf.Message) -> Outcome {
        do {
            return .success(try message.serializedBytes() as [UInt8])
        } catch {
            return .failure(RPCError(code: .internalError, message: "the answer could not be encoded"))
        }
    }
}
