import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// A JSON response, for the routes outside the generated ones (readiness, live streams' refusals).
func jsonResponse(_ object: Any, status: HTTPResponse.Status = .ok) throws -> Response {
    let body = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
}

/// RFC 3339 with milliseconds, UTC: the form Tinode itself uses (``Timestamps``).
func timestampText(_ date: Date) -> String {
    Timestamps.text(date)
}

/// The API's timestamps: RFC 3339, UTC, with milliseconds, rounded to the nearest millisecond with
/// integer arithmetic, so that a timestamp read back from its text writes the same text again (an
/// `Idempotency-Key` retry answers the stored receipt, which must equal the first answer). Formatters
/// that truncate a `Date`'s binary fraction can write one millisecond less for the same instant.
enum Timestamps {
    static func text(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let (seconds, fraction) = milliseconds.quotientAndRemainder(dividingBy: 1000)
        let (wholeSeconds, millis) = fraction < 0 ? (seconds - 1, fraction + 1000) : (seconds, fraction)
        var text = Date(timeIntervalSince1970: TimeInterval(wholeSeconds)).formatted(Date.ISO8601FormatStyle())
        // "…:SSZ" -> "…:SS.mmmZ"
        text.removeLast()
        let digits = String(millis)
        return text + "." + String(repeating: "0", count: 3 - digits.count) + digits + "Z"
    }

    /// The instant of a timestamp in the API's form (or without a fraction), to the millisecond.
    static func date(_ text: String) -> Date? {
        guard
            let parsed = (try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
                ?? (try? Date(text, strategy: Date.ISO8601FormatStyle()))
        else { return nil }
        return Date(timeIntervalSince1970: (parsed.timeIntervalSince1970 * 1000).rounded() / 1000)
    }
}

/// A value for a JSON object: `null` when absent.
func orNull(_ value: (some Any)?) -> Any {
    value.map { $0 as Any } ?? NSNull()
}
