import Crypto
import Foundation

/// The head entry that marks a message sent with an `Idempotency-Key`, so that a retry after an
/// uncertain attempt can tell whether Tinode stored the first one.
///
/// The value is a digest of the user and the key, not the key: heads are delivered to every member
/// of the room, and a client's keys are its own business.
enum SendMarker {
    static let headKey = "sidecar_idem"
    /// The search for an uncertain attempt's message reads small pages: a page is written to the
    /// user's stream on top of the room's live traffic, and Tinode gives up on a stream with more
    /// than 128 messages queued (tinode-protocol.md, send queue). At most 1,000 messages back.
    static let pageSize = 25
    static let maximumPages = 40
    /// How far before the uncertain attempt the search still looks, in seconds.
    static let clockMargin: TimeInterval = 5

    /// The head value: JSON bytes of a string (Tinode's head values are JSON).
    static func headValue(scope: String, key: String) -> Data {
        Data(("\"" + digest(scope: scope, key: key) + "\"").utf8)
    }

    /// Whether a head value as Tinode returns it (re-encoded JSON) is `marker`.
    static func matches(_ value: Data?, _ marker: Data) -> Bool {
        guard let value else { return false }
        let decoded = try? JSONSerialization.jsonObject(with: value, options: [.fragmentsAllowed]) as? String
        let expected = try? JSONSerialization.jsonObject(with: marker, options: [.fragmentsAllowed]) as? String
        return decoded != nil && decoded == expected
    }

    private static func digest(scope: String, key: String) -> String {
        let hash = SHA256.hash(data: Data((scope + "\u{0}" + key).utf8))
        return hash.prefix(16).map { String(format: "%02x", $0) }.joined()
    }
}
