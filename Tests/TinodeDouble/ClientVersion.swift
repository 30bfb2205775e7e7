/// Client protocol versions as Tinode compares them: `major.minor[.patch]` packed into one integer
/// (`major << 16 | minor << 8 | patch`), an optional leading `v`, non-digit suffixes of a part
/// (`-rc1`) ignored. A part that is 0, missing or not a number counts as 0, so "0.25" is `25 << 8`
/// and an empty or unreadable version is 0, which Tinode answers with 400 on the first `hi`.
enum ClientVersion {
    /// 0.20: the oldest version Tinode v0.25.3 still serves; older ones get 505.
    static let minimumSupported = 20 << 8

    static func parse(_ text: String) -> Int {
        var rest = Substring(text)
        if rest.hasPrefix("v") { rest = rest.dropFirst() }
        let parts = rest.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
        var version = 0
        for (position, part) in parts.enumerated() {
            version |= parsePart(part) << (16 - 8 * position)
        }
        return version
    }

    /// Tinode compares major and minor only.
    static func isSupported(_ version: Int) -> Bool {
        version >> 8 >= minimumSupported >> 8
    }

    private static func parsePart(_ part: Substring) -> Int {
        let digits = part.prefix { $0.isASCII && $0.isNumber }
        // Go's strconv.Atoi on the whole part fails when it does not start with a digit.
        guard !digits.isEmpty, let value = Int(digits), value > 0, value <= 0x1fff else { return 0 }
        return value
    }
}
