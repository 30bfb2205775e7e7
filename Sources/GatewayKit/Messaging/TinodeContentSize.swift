/// How large a message's content is where size limits apply: in the `pub` we send to Tinode, and
/// in what Tinode passes on to AuthPlugin.
///
/// `GATEWAY_MAX_MESSAGE_BYTES` is there to keep a message within `PLUGIN_MAX_PUB_BYTES` and within
/// Tinode's own limit on one gRPC message (131,072 bytes by default; a larger one ends the user's
/// whole stream). Counted on the text a client sent, it let through text that grows when it is
/// encoded: a control character is one byte of text and six of JSON (`\u0001`). So the content is
/// measured as JSON, as we encode it for `pub.content`, and also as Tinode's Go encoder writes it
/// again for the plugin: that encoder escapes `<`, `>` and `&` as `\u003c` and U+2028 and U+2029 as
/// `\u2028` (six bytes for one or three), may write `\b` and `\f` as `\u0008` and `\u000c`, and
/// writes every number again from a float64: no longer than it was, except one with an exponent
/// (`1e20` becomes `100000000000000000000`), which is counted as the longest Go writes. The larger
/// of the two counts.
enum TinodeContentSize {
    /// Bytes the content takes, encoded by us or re-encoded by Tinode, whichever is more.
    ///
    /// - Parameter encoded: The content as JSON, exactly as it goes into `pub.content`.
    static func measure(_ encoded: some Collection<UInt8>) -> Int {
        var growth = 0
        var inString = false
        var escaped = false
        var numberLength = 0
        var numberHasExponent = false
        // The two bytes before this one, to find U+2028 and U+2029 (E2 80 A8, E2 80 A9).
        var previous: (UInt8, UInt8) = (0, 0)
        for byte in encoded {
            defer { previous = (previous.1, byte) }
            if inString {
                if escaped {
                    escaped = false
                    if byte == UInt8(ascii: "b") || byte == UInt8(ascii: "f") { growth += 4 }
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                } else if byte == UInt8(ascii: "<") || byte == UInt8(ascii: ">") || byte == UInt8(ascii: "&") {
                    growth += 5
                } else if (byte == 0xA8 || byte == 0xA9), previous == (0xE2, 0x80) {
                    growth += 3
                }
                continue
            }
            // A number starts with `-` or a digit (never with the `e` of `true` or `false`).
            if numberLength > 0 ? isNumberByte(byte) : (byte == UInt8(ascii: "-") || isDigit(byte)) {
                numberLength += 1
                numberHasExponent = numberHasExponent || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E")
                continue
            }
            if numberHasExponent { growth += max(0, longestGoNumber - numberLength) }
            numberLength = 0
            numberHasExponent = false
            if byte == UInt8(ascii: "\"") { inString = true }
        }
        if numberHasExponent { growth += max(0, longestGoNumber - numberLength) }
        return encoded.count + growth
    }

    /// The longest a float64 becomes in Go's JSON (`-0.0000012345678901234567`).
    static let longestGoNumber = 25

    private static func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }

    private static func isNumberByte(_ byte: UInt8) -> Bool {
        isDigit(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "+")
            || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E")
    }
}
