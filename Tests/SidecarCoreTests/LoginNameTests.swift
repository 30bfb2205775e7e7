import Foundation
import TestSupport
import Testing

@testable import SidecarCore

/// Tinode's own login rule, written independently of the mapper: `^[\pL\pN][_.\pL\pN]*[\pL\pN]+$`
/// over Unicode scalars, at most `maximum` code points.
private func isLegalTinodeLogin(_ name: String, maximum: Int) -> Bool {
    let scalars = Array(name.unicodeScalars)
    guard scalars.count >= 2, scalars.count <= maximum else { return false }
    func letterOrDigit(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
            .decimalNumber, .letterNumber, .otherNumber:
            true
        default: false
        }
    }
    guard letterOrDigit(scalars.first!), letterOrDigit(scalars.last!) else { return false }
    return scalars.allSatisfy { letterOrDigit($0) || $0 == "_" || $0 == "." }
        // Tinode lower-cases logins before storing them: ours must already be lower case.
        && name.lowercased() == name
}

private let localAlphabet: [String] =
    Array("abcxyzABCXYZ0189._-+!#$%&'*/=?^`{|}~\"() ,:;<>[]\\").map(String.init)
    + [
        "é", "ß", "ö", "Å", "ñ", "ı", "İ", "ǅ", "а", "о", "е", "ο", "ρ", "漢", "字", "ع", "ש", "ก", "ﬁ", "Ａ", "ｂ", "①", "²", "Ⅻ",
        "\u{301}", "😀", "＿", "．", "@", "𝔞", "ᵃ", "ǈ", "Σ", "ς",
    ]
private let domains = [
    "gmail.com", "Example.ORG", "x.io", "b", "[192.168.0.1]", "[IPv6:2001:db8::1]", "münchen.de", "例え.jp",
    "-.-", "xn--mnchen-3ya.de", "1.2", "ЯНДЕКС.рф", "a", ".", "__", "ｇｍａｉｌ.com",
]

private func randomAddress(_ rng: inout SplitMix64, localLength: ClosedRange<Int> = 1...40) -> String {
    let length = Int.random(in: localLength, using: &rng)
    let local = (0..<length).map { _ in localAlphabet.randomElement(using: &rng)! }.joined()
    return local + "@" + domains.randomElement(using: &rng)!
}

@Suite("Login names")
struct LoginNameTests {
    let mapper = try! LoginNameMapper()

    @Test("The documented example and its spelling variants map to john_gm_1f9d9a9e")
    func documentedExample() throws {
        #expect(try mapper.loginName(for: "john@gmail.com") == "john_gm_1f9d9a9e")
        #expect(try mapper.loginName(for: " John@Gmail.COM ") == "john_gm_1f9d9a9e")
        #expect(try mapper.loginName(for: "\tJOHN@GMAIL.COM\n") == "john_gm_1f9d9a9e")
        // Fullwidth letters are the same address after NFKC.
        #expect(try mapper.loginName(for: "ｊｏｈｎ@ｇｍａｉｌ.ｃｏｍ") == "john_gm_1f9d9a9e")
    }

    @Test("Characters Tinode rejects become underscores and the ends are trimmed")
    func sanitising() throws {
        let plus = try mapper.loginName(for: "John.Doe+x@gmail.com")
        #expect(plus.hasPrefix("john.doe_x_gm_"))
        #expect(try mapper.loginName(for: "_johnny_@x.io").hasPrefix("johnny_xi_"))
        #expect(try mapper.loginName(for: "john-doe@example.com").hasPrefix("john_doe_ex_"))
        #expect(try mapper.loginName(for: "jöhn.ßmith@example.com").hasPrefix("jöhn.ßmith_ex_"))
        // Nothing usable in the local part: a fixed word stands in.
        #expect(try mapper.loginName(for: #""@"@example.com"#).hasPrefix("user_ex_"))
        #expect(try mapper.loginName(for: "+++@example.com").hasPrefix("user_ex_"))
    }

    @Test("Short and odd domains are padded deterministically")
    func domainPadding() throws {
        #expect(try mapper.loginName(for: "a@b").hasPrefix("a_bx_"))
        #expect(try mapper.loginName(for: "a@.").hasPrefix("a_xx_"))
        #expect(try mapper.loginName(for: "a@[192.168.0.1]").hasPrefix("a_19_"))
    }

    @Test("Long local parts are cut to fit the maximum, which defaults to 26")
    func lengthLimit() throws {
        let name = try mapper.loginName(for: String(repeating: "abcdefghij", count: 10) + "@gmail.com")
        #expect(name.unicodeScalars.count == 26)
        #expect(name.hasPrefix("abcdefghijabcd_gm_"))
        let wide = try LoginNameMapper(maximumLength: 32)
        #expect(try wide.loginName(for: String(repeating: "a", count: 40) + "@gmail.com").unicodeScalars.count == 32)
        // A cut that ends on a separator drops it, so the name never has "._" before the suffix.
        let cut = try mapper.loginName(for: "abcdefghijklm.nop@gmail.com")
        #expect(cut.hasPrefix("abcdefghijklm_gm_"))
    }

    @Test("The maximum must leave room for the suffix and stay within Tinode's 32")
    func maximumBounds() {
        #expect(throws: LoginNameError.invalidMaximumLength(12)) { try LoginNameMapper(maximumLength: 12) }
        #expect(throws: LoginNameError.invalidMaximumLength(33)) { try LoginNameMapper(maximumLength: 33) }
    }

    @Test(
        "Input that is not an e-mail address is refused, never mapped",
        arguments: [
            ("", LoginNameError.empty), ("   ", .empty), ("john", .missingAtSign), ("@gmail.com", .emptyLocalPart),
            ("john@", .emptyDomain), ("jo\u{0}hn@gmail.com", .controlCharacter), ("jo\nhn@x.io", .controlCharacter),
            ("john@gm\u{7}ail.com", .controlCharacter), ("jo\u{202E}hn@x.io", .controlCharacter),
            ("jo\u{200D}hn@x.io", .controlCharacter), ("\u{10FFFD}@x.io", .controlCharacter),
            (String(repeating: "a", count: 250) + "@gmail.com", .tooLong),
            (String(repeating: "a", count: 300) + "@x", .tooLong),
            (String(repeating: "é", count: 200) + "@x.io", .tooLong),
        ])
    func refusals(input: String, expected: LoginNameError) {
        #expect(throws: expected) { try mapper.loginName(for: input) }
    }

    @Test("Property: 20,000 generated addresses give legal, deterministic names within every maximum")
    func generatedAddresses() throws {
        var rng = SplitMix64(state: 0x5EED)
        let mappers = try (13...32).map { try LoginNameMapper(maximumLength: $0) }
        var mapped = 0
        for _ in 0..<20_000 {
            let address = randomAddress(&rng)
            let limited = mappers.randomElement(using: &rng)!
            do {
                let name = try limited.loginName(for: address)
                mapped += 1
                #expect(isLegalTinodeLogin(name, maximum: limited.maximumLength), "\(address.debugDescription) -> \(name)")
                #expect(try limited.loginName(for: address) == name)
                // Normalisation: spelling variants of the same address map to the same name.
                #expect(try limited.loginName(for: "  " + address.uppercased() + " ") == (try limited.loginName(for: address.uppercased())))
            } catch {
                // Only addresses that really are not e-mail addresses may be refused.
                #expect(
                    [LoginNameError.controlCharacter, .emptyLocalPart, .emptyDomain, .missingAtSign, .tooLong].contains(error),
                    "\(address.debugDescription): \(error)")
            }
        }
        #expect(mapped > 15_000, "most generated addresses are valid and must map")
    }

    @Test("Property: near-limit inputs of about 250 bytes map; 300-character inputs are refused")
    func longInputs() throws {
        var rng = SplitMix64(state: 42)
        for _ in 0..<500 {
            let local = String((0..<240).map { _ in Array("abcdefghijklmnopqrstuvwxyz0123456789._+-").randomElement(using: &rng)! })
            let name = try mapper.loginName(for: local + "@gmail.com")
            #expect(isLegalTinodeLogin(name, maximum: 26), "\(name)")
            let long = String((0..<300).map { _ in Array("abcé漢").randomElement(using: &rng)! }) + "@x.io"
            #expect(throws: LoginNameError.tooLong) { try mapper.loginName(for: long) }
        }
    }

    @Test("Homoglyphs of one address give different names: the hash keeps them apart")
    func homoglyphs() throws {
        let latin = try mapper.loginName(for: "paypal@example.com")
        let cyrillic = try mapper.loginName(for: "pаypаl@example.com")  // U+0430 twice
        #expect(latin != cyrillic)
        #expect(isLegalTinodeLogin(cyrillic, maximum: 26))
    }

    @Test("Normalising is idempotent")
    func normaliseIdempotent() throws {
        var rng = SplitMix64(state: 7)
        for _ in 0..<2_000 {
            let address = randomAddress(&rng)
            guard let once = try? LoginNameMapper.normalise(address) else { continue }
            #expect(try LoginNameMapper.normalise(once) == once)
        }
    }
}
