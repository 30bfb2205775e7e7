import Foundation
import SidecarCore
import Testing

@Suite("JSON string literals")
struct JSONStringEscapingTests {
    @Test(
        "Any string, written as a literal, reads back as itself",
        arguments: [
            "", "plain", "quote \" and backslash \\", "line\nfeed\r\ttab", "\u{00}\u{01}\u{1F}\u{7F}", "Zoë 漢字 😀 \u{2028}", "</script>",
        ])
    func roundTrip(text: String) throws {
        let literal = JSONStringEscaping.literal(text)
        let read = try JSONSerialization.jsonObject(with: Data(literal), options: [.fragmentsAllowed]) as? String
        #expect(read == text)
        #expect(literal.allSatisfy { $0 >= 0x20 }, "a control byte was written raw")
    }
}
