import Foundation

/// Tinode's object ids: a 64-bit number written as the URL-safe base64 of its 8 little-endian
/// bytes, cut to 11 characters (no padding), behind a prefix: `usr` for users, `grp` for groups.
/// The token carries the same 8 bytes, so a token and its user id share their first characters.
enum TinodeID {
    static func userName(_ raw: UInt64) -> String { "usr" + encode(raw) }
    static func groupName(_ raw: UInt64) -> String { "grp" + encode(raw) }

    /// The number behind a `usr...` id; nil when the text is not one.
    static func userNumber(_ name: String) -> UInt64? {
        guard name.hasPrefix("usr") else { return nil }
        return decode(name.dropFirst(3))
    }

    static func encode(_ raw: UInt64) -> String {
        let bytes = withUnsafeBytes(of: raw.littleEndian) { Data($0) }
        let standard = bytes.base64EncodedString().prefix(11)
        return String(standard.map { $0 == "+" ? "-" : $0 == "/" ? "_" : $0 })
    }

    static func decode(_ text: Substring) -> UInt64? {
        guard text.count == 11 else { return nil }
        let standard = String(text.map { $0 == "-" ? "+" : $0 == "_" ? "/" : $0 }) + "="
        guard let bytes = Data(base64Encoded: standard), bytes.count == 8 else { return nil }
        return bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
    }
}
