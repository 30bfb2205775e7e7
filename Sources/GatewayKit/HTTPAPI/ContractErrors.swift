import Foundation
import Hummingbird
import OpenAPIRuntime

/// Turns what the generated routes throw into the API's error answers (``APIError``): the
/// generated code wraps every error in `ServerError`, which Hummingbird would answer with a bare 500.
///
/// * An ``APIError`` from a handler or middleware is answered as it is.
/// * A body or parameter the generated decoder refused is 400 `invalid_request`, naming the field.
/// * Anything else stays an internal error (500, no detail to the client; logged by Hummingbird).
struct ContractErrors<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as ServerError {
            throw Self.answer(for: error)
        }
    }

    static func answer(for error: ServerError) -> any Error {
        if let apiError = error.underlyingError as? APIError { return apiError }
        if let decoding = error.underlyingError as? DecodingError {
            return APIError.badRequest(message(for: decoding, operationID: error.operationID))
        }
        if (400..<500).contains(error.httpStatus.code) {
            // The runtime's own refusals (a query parameter that is not a number, say): its
            // description names the parameter and holds nothing of the server's.
            return APIError(error.httpStatus, "invalid_request", error.causeDescription)
        }
        return error.underlyingError
    }

    /// What was wrong with the body, by field.
    static func message(for error: DecodingError, operationID: String) -> String {
        func path(_ context: DecodingError.Context, _ key: (any CodingKey)? = nil) -> String {
            ((context.codingPath + (key.map { [$0] } ?? [])).map { $0.intValue.map(String.init) ?? $0.stringValue }).joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "Missing field `\(path(context, key))`."
        case .valueNotFound(_, let context) where !context.codingPath.isEmpty:
            return "Field `\(path(context))` must not be null."
        case .typeMismatch(let type, let context) where !context.codingPath.isEmpty:
            return "Field `\(path(context))` must be \(describe(type))."
        case .dataCorrupted(let context) where !context.codingPath.isEmpty:
            return "Field `\(path(context))` is not valid."
        default:
            // At the top: not JSON, not an object, or (a message) neither of its forms.
            if operationID == "sendMessage" { return OutgoingMessage.neither.message }
            return "The body must be a JSON object."
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Int.Type, is Double.Type: return "a number"
        case is Bool.Type: return "true or false"
        default: return "of another type"
        }
    }
}
