/// A Tinode user id in both of its spellings: `usr` + 11 characters in the client API, the bare 11
/// characters (URL-safe base64 of the id's 8 little-endian bytes) in MongoDB, where no document ever
/// carries the `usr` prefix (tinode-mongo-schema.md §0).
public struct TinodeUserID: Sendable, Hashable, CustomStringConvertible {
    /// The 11 characters stored in `users._id`, `subscriptions.user`, `messages.from`, ...
    public let stored: String

    /// From the client form `usr...`; nil for anything else (so bad input is a 400, never a query).
    public init?(clientForm text: String) {
        guard text.hasPrefix("usr") else { return nil }
        self.init(stored: String(text.dropFirst(3)))
    }

    /// From the stored form; nil unless it is exactly 11 URL-safe base64 characters.
    public init?(stored text: String) {
        let allowed = text.utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
        }
        guard text.utf8.count == 11, allowed else { return nil }
        stored = text
    }

    /// `usr` + the stored form, as clients and Tinode's protocol write it.
    public var clientForm: String { "usr" + stored }
    public var description: String { clientForm }
}
