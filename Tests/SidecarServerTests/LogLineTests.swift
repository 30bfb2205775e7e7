import Logging
import Testing

@testable import SidecarServer

/// What a caller logs cannot forge log lines: standard error gets exactly one line per event,
/// whatever a message or a metadata value holds.
@Suite("Log lines cannot be forged")
struct LogLineTests {
    /// A value as an attacker would choose it: a forged line after a newline, a carriage return that
    /// rewrites the terminal line, ANSI colours, Unicode separators and a bidi override, C1 and DEL.
    static let hostile =
        "alice\n2026-01-01T00:00:00+0000 critical Gateway : [GatewayKit] admin logged in\r\u{1B}[31mred\u{1B}[0m"
        + "\u{2028}ls\u{2029}ps\u{202E}evil\u{2066}iso\u{2069}\u{85}nel\u{9B}csi\u{7F}del\u{0}nul\ttab\\back"

    func line(message: String = "hello", metadata: Logger.Metadata = [:]) -> String {
        StandardErrorLogHandler.line(
            time: "2026-01-01T00:00:00+0000", level: .info, label: "Gateway", metadata: metadata, source: "Test",
            message: "\(message)")
    }

    /// The characters that must never appear raw in a line, except for its final newline.
    static func rawControls(in text: Substring) -> [Unicode.Scalar] {
        text.unicodeScalars.filter { scalar in
            let value = scalar.value
            return value < 0x20 || (0x7F...0x9F).contains(value) || (0x2028...0x202E).contains(value)
                || (0x2066...0x2069).contains(value) || value == 0x200E || value == 0x200F || value == 0x061C
        }
    }

    @Test("a hostile metadata value and message give exactly one line, with every control character escaped")
    func hostileValue() {
        let written = line(message: Self.hostile, metadata: ["login": .string(Self.hostile), "bad\nkey": "v"])
        #expect(written.split(separator: "\n", omittingEmptySubsequences: false).count == 2, "\(written)")
        #expect(written.hasSuffix("\n"))
        let body = written.dropLast()
        #expect(Self.rawControls(in: body).isEmpty, "raw control characters: \(Self.rawControls(in: body))")
        let escapedValue =
            #"alice\n2026-01-01T00:00:00+0000 critical Gateway : [GatewayKit] admin logged in\r\u001b[31mred\u001b[0m"#
            + #"\u2028ls\u2029ps\u202eevil\u2066iso\u2069\u0085nel\u009bcsi\u007fdel\u0000nul\ttab\\back"#
        #expect(body.contains(" login=" + escapedValue + " "), "\(body)")
        #expect(body.hasSuffix("] " + escapedValue), "\(body)")
        #expect(body.contains(#" bad\nkey=v"#))
    }

    @Test("plain text is written as it is")
    func plainText() {
        let written = line(message: "Gateway starting", metadata: ["GATEWAY_HTTP_ADDR": "127.0.0.1:8080", "name": "Zoë 👋"])
        #expect(written == "2026-01-01T00:00:00+0000 info Gateway : GATEWAY_HTTP_ADDR=127.0.0.1:8080 name=Zoë 👋 [Test] Gateway starting\n")
    }

    @Test("a long value is cut at 1 KiB with a marker, never inside a character or an escape")
    func longValue() {
        let long = String(repeating: "é", count: 3000)
        let written = line(message: long, metadata: ["header": .string(String(repeating: "\n", count: 3000))])
        #expect(written.split(separator: "\n", omittingEmptySubsequences: false).count == 2)
        #expect(written.contains(" header=" + String(repeating: #"\n"#, count: 512) + "…[truncated: 3000 bytes] [Test] "))
        #expect(written.hasSuffix("] " + String(repeating: "é", count: 512) + "…[truncated: 6000 bytes]\n"))
        // Exactly at the limit: kept whole.
        let exact = String(repeating: "a", count: LogLineEscaping.maximumBytes)
        #expect(LogLineEscaping.escaped(exact) == exact)
    }
}
