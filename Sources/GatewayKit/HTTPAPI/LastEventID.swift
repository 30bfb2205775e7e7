import Foundation

/// Reads the seq a live client resumes from (`Last-Event-ID`, `?last_event_id=`).
///
/// Tinode's seqs are 32-bit and start at 1, so only `0 ... 2147483647` can be a seq the client was
/// sent (0: "nothing yet", replay from the start within the replay limit). Anything else is refused
/// with 400 rather than guessed at: a negative or non-numeric id is a client bug, and an id beyond
/// the seq range would silently hold back every live message until the room got there.
enum LastEventID {
    /// The largest seq Tinode can give a message.
    static let maximum = Int(Int32.max)

    /// The seq to resume after; nil when there is none (absent, or empty: an `EventSource` whose
    /// last event had no id sends none).
    static func parse(_ text: String?, field: String) throws(APIError) -> Int? {
        guard let trimmed = text?.trimmingCharacters(in: .whitespaces), !trimmed.isEmpty else { return nil }
        guard trimmed.utf8.count <= 10, trimmed.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            let value = Int(trimmed), value <= maximum
        else {
            throw APIError.badRequest("\(field) must be a message seq from 0 to \(maximum).")
        }
        return value
    }
}
