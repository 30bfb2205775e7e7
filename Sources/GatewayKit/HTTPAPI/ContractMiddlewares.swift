import Foundation
import HTTPTypes
import OpenAPIRuntime
import SidecarCore

/// The generated routes' middlewares, in the order they run: who the caller is, then the body's
/// rules, then (on the way out) the answer's nulls. Each takes what it needs from ``ContractRules``.

/// Operations the contract secures run with the caller of their Bearer token (``Caller/current``);
/// others without. Runs before the body is read, so that a stranger's body costs nothing.
struct BearerAuthentication: ServerMiddleware {
    let rules: ContractRules
    let authenticate: @Sendable (_ authorization: String?) async throws -> Caller

    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        guard rules.secured.contains(operationID) else { return try await next(request, body, metadata) }
        let caller = try await authenticate(request.headerFields[.authorization])
        return try await Caller.$current.withValue(caller) { try await next(request, body, metadata) }
    }
}

/// A JSON body as the API takes it: `Content-Type: application/json` (415 otherwise; the generated
/// code would take a body without one), at most `maxBytes` (413; the generated code would collect
/// any size). The `Accept` header is dropped: every answer is JSON, and the API has never refused a
/// client for what it said it accepts (the generated code would answer 406).
struct JSONRequestRules: ServerMiddleware {
    let rules: ContractRules
    let maxBytes: Int

    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        var request = request
        request.headerFields[.accept] = nil
        guard rules.jsonBodies.contains(operationID) else { return try await next(request, body, metadata) }
        let contentType = request.headerFields[.contentType]?.lowercased() ?? ""
        guard contentType.hasPrefix("application/json") else {
            throw APIError(.unsupportedMediaType, "unsupported_media_type", "Send JSON with Content-Type: application/json.")
        }
        let bytes: [UInt8]
        do {
            bytes = try await [UInt8](collecting: body ?? HTTPBody(), upTo: maxBytes)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw APIError(.contentTooLarge, "body_too_large", "The body is larger than \(maxBytes) bytes.")
        }
        return try await next(request, HTTPBody(bytes), metadata)
    }
}

/// Writes `null` for each field the contract requires and allows to be null, where the generated
/// encoder left a nil out (``ContractRules/nullableRequired``). Top-level fields only: no schema of
/// the contract has such a field deeper down.
struct RequiredNullFields: ServerMiddleware {
    let rules: ContractRules

    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        let (response, responseBody) = try await next(request, body, metadata)
        guard let fields = rules.nullableRequired[operationID], response.status.kind == .successful, let responseBody else {
            return (response, responseBody)
        }
        // The generated code answers from memory: the body's size is known and small.
        let data = try await Data(collecting: responseBody, upTo: 16 * 1024 * 1024)
        guard var object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return (response, HTTPBody(data)) }
        let missing = fields.filter { object[$0] == nil }
        guard !missing.isEmpty else { return (response, HTTPBody(data)) }
        for name in missing { object[name] = NSNull() }
        let filled = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        var headers = response
        headers.headerFields[.contentLength] = nil
        return (headers, HTTPBody(filled))
    }
}
