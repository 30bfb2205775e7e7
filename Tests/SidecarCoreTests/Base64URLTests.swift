import Foundation
import Testing

@testable import SidecarCore

@Suite("base64url decoding of JWT parts")
struct Base64URLTests {
    @Test("Decodes what Foundation's base64 encodes, for every length and byte value")
    func roundTrip() {
        for length in 0..<64 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ length) }
            let text = Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
            #expect(Base64URL.decode(Array(text.utf8)) == bytes, "length \(length)")
        }
    }

    @Test(
        "Refuses padding, the standard alphabet's + and /, impossible lengths and stray bits",
        arguments: ["e30=", "a+b/", "abcde", "e31", "ab!c"])
    func refusals(text: String) {
        #expect(Base64URL.decode(Array(text.utf8)) == nil)
    }
}
