/// Makes text safe to put in one log line.
///
/// Log messages and metadata carry text that callers choose: a login name from a FireHose `{acc}`,
/// a header, an error from a peer. Written raw, a newline in such a value starts a line the reader
/// takes for one of ours, a carriage return or an ANSI escape rewrites what a terminal shows, and a
/// bidi override reorders it. Every such character is therefore written as an escape (`\n`, `\r`,
/// `\t`, `\\`, else `\u001b`), so that one event is always exactly one line, and the backslash is
/// escaped too, so that an escape in the log always means the character was there. A value is also
/// cut at ``maximumBytes``: one huge header must not turn into megabytes of log.
enum LogLineEscaping {
    /// The longest value written, in bytes of the escaped text (the marker comes on top).
    static let maximumBytes = 1024

    /// `text`, escaped, and cut after ``maximumBytes`` with a marker that says how long it was.
    static func escaped(_ text: String, maximumBytes: Int = Self.maximumBytes) -> String {
        // Most values are short and plain: one pass over the bytes, and the string itself.
        if text.utf8.count <= maximumBytes, !text.utf8.contains(where: mayNeedEscaping) { return text }
        var output = ""
        output.reserveCapacity(min(text.utf8.count, maximumBytes) + 32)
        var written = 0
        for scalar in text.unicodeScalars {
            let piece = escape(scalar)
            if written + piece.utf8.count > maximumBytes {
                return output + "…[truncated: \(text.utf8.count) bytes]"
            }
            output += piece
            written += piece.utf8.count
        }
        return output
    }

    /// Whether a UTF-8 byte may belong to a character that is escaped: ASCII controls and the
    /// backslash, and the lead bytes of U+0080–U+009F (0xC2), U+061C (0xD8) and U+200E–U+2069 (0xE2).
    private static func mayNeedEscaping(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == 0x7F || byte == UInt8(ascii: "\\") || byte == 0xC2 || byte == 0xD8 || byte == 0xE2
    }

    private static func escape(_ scalar: Unicode.Scalar) -> String {
        switch scalar {
        case "\n": return "\\n"
        case "\r": return "\\r"
        case "\t": return "\\t"
        case "\\": return "\\\\"
        default:
            guard isEscaped(scalar.value) else { return String(scalar) }
            let hex = String(scalar.value, radix: 16)
            return "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        }
    }

    /// C0 and C1 controls and DEL; the line and paragraph separators, which some readers break
    /// lines at; and the bidirectional marks, embeddings, overrides and isolates, which reorder
    /// what a reader sees.
    private static func isEscaped(_ value: UInt32) -> Bool {
        switch value {
        case 0x00...0x1F, 0x7F...0x9F: true
        case 0x061C, 0x200E, 0x200F: true
        case 0x2028...0x202E: true
        case 0x2066...0x2069: true
        default: false
        }
    }
}
