import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SidecarCore

/// Every error the API answers: `{"error":{"code":"<stable_snake_case>","message":"..."}}` with the
/// right status. Codes are a public contract; messages are for people and may change.
public struct APIError: Error, HTTPResponseError, Sendable {
    public let status: HTTPResponse.Status
    public let code: String
    public let message: String
    /// Sent as `Retry-After` (whole seconds, at least 1) with 429 and 503.
    public let retryAfter: Duration?

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String, retryAfter: Duration? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
    }

    /// `{"error":{"code":...,"message":...}}`, the body of every error answer.
    public var jsonBody: Data {
        // Two strings in a dictionary: serialisation cannot fail.
        (try? JSONSerialization.data(
            withJSONObject: ["error": ["code": code, "message": message]], options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = jsonBody
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfter {
            let seconds = max(1, retryAfter.components.seconds + (retryAfter.components.attoseconds > 0 ? 1 : 0))
            headers[.retryAfter] = String(seconds)
        }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    static func badRequest(_ message: String) -> APIError { APIError(.badRequest, "invalid_request", message) }
    static func rateLimited(retryAfter: Duration) -> APIError {
        APIError(.tooManyRequests, "rate_limited", "Too many requests; retry later.", retryAfter: retryAfter)
    }
    static let unauthorized = APIError(.unauthorized, "invalid_token", "The access token is missing, invalid or expired.")
    static func unavailable(_ what: String, retryAfter: Duration = .seconds(1)) -> APIError {
        APIError(.serviceUnavailable, "service_unavailable", "\(what) is unavailable; retry later.", retryAfter: retryAfter)
    }

    /// The account exists but its address is not proven yet: never tokens, and the way out.
    static let emailUnverified = APIError(
        .forbidden, "email_unverified",
        "This account's e-mail address is not verified yet: POST /v1/auth/verify with the code that was mailed, or /v1/auth/verify/resend.")

    /// Maps what a Tinode session reported.
    static func tinode(_ error: TinodeSessionError) -> APIError {
        switch error {
        case .unavailable(let retryAfter): return unavailable("Tinode", retryAfter: retryAfter)
        case .timeout:
            return APIError(.serviceUnavailable, "tinode_timeout", "Tinode did not answer in time; retry later.", retryAfter: .seconds(1))
        case .closed: return unavailable("The Gateway (shutting down)")
        case .evicted: return APIError(.forbidden, "account_unavailable", "Tinode ended this account's session (deleted or suspended).")
        case .authenticationFailed: return APIError(.unauthorized, "session_expired", "Tinode no longer accepts this login; log in again.")
        case .validationRequired: return .emailUnverified
        case .rejected(let code, let text, _):
            switch code {
            case 403: return APIError(.forbidden, "forbidden", "Tinode refused: \(text).")
            case 404: return APIError(.notFound, "not_found", "Tinode: \(text).")
            case 413: return APIError(.contentTooLarge, "message_too_large", "Tinode refused the message as too large.")
            default: return APIError(.badGateway, "tinode_error", "Tinode answered \(code) \(text).")
            }
        case .protocolViolation: return APIError(.badGateway, "tinode_error", "Tinode answered unexpectedly.")
        }
    }
}

extension HTTPField.Name {
    static let retryAfter = HTTPField.Name("Retry-After")!
    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
    static let lastEventID = HTTPField.Name("Last-Event-ID")!
    static let requestID = HTTPField.Name("X-Request-ID")!
}
