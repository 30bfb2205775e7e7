import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// A request's JSON object, read with the API's rules: JSON only (415), at most `maxBytes` (413),
/// an object at the top (400), unknown fields ignored, and each field checked by name so that a
/// missing or mistyped one is a 400 that names it.
struct JSONBody {
    let fields: [String: Any]

    static func read(_ request: Request, maxBytes: Int) async throws -> JSONBody {
        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        guard contentType.hasPrefix("application/json") else {
            throw APIError(.unsupportedMediaType, "unsupported_media_type", "Send JSON with Content-Type: application/json.")
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: maxBytes)
        } catch is NIOTooManyBytesError {
            throw APIError(.contentTooLarge, "body_too_large", "The body is larger than \(maxBytes) bytes.")
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: buffer), options: []),
            let fields = object as? [String: Any]
        else { throw APIError.badRequest("The body must be a JSON object.") }
        return JSONBody(fields: fields)
    }

    func string(_ name: String) throws -> String {
        guard let value = fields[name] else { throw APIError.badRequest("Missing field `\(name)`.") }
        guard let text = value as? String else { throw APIError.badRequest("Field `\(name)` must be a string.") }
        return text
    }

    func optionalString(_ name: String) throws -> String? {
        guard let value = fields[name], !(value is NSNull) else { return nil }
        guard let text = value as? String else { throw APIError.badRequest("Field `\(name)` must be a string.") }
        return text
    }

    func optionalObject(_ name: String) throws -> [String: Any]? {
        guard let value = fields[name], !(value is NSNull) else { return nil }
        guard let object = value as? [String: Any] else { throw APIError.badRequest("Field `\(name)` must be a JSON object.") }
        return object
    }
}

/// A JSON response.
func jsonResponse(_ object: Any, status: HTTPResponse.Status = .ok) throws -> Response {
    let body = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
}

/// RFC 3339 with milliseconds, UTC: the form Tinode itself uses.
func timestampText(_ date: Date) -> String {
    date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
}

/// A value for a JSON object: `null` when absent.
func orNull(_ value: (some Any)?) -> Any {
    value.map { $0 as Any } ?? NSNull()
}
