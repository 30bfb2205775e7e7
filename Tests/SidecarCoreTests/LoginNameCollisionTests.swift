import Foundation
import TestSupport
import Testing

@testable import SidecarCore

/// Two addresses whose canonical names collide: the same local part (`john`), domain code (`gm`) and
/// first 8 hex digits of md5 (`3058c34c`). Found offline by a birthday search over `john@gm<n>.example`,
/// `python3 bench/login-name-collision.py` (154,359 candidates, 0.22 s on 2026-12-07).
private let victim = "john@gm33663.example"
private let squatter = "john@gm154358.example"

/// Tinode's login rule, `^[\pL\pN][_.\pL\pN]*[\pL\pN]+$`, as a regular expression matched scalar by
/// scalar as Go matches runes; Tinode also lower-cases logins, so ours must already be lower case.
private func isLegalTinodeLogin(_ name: String, maximum: Int) -> Bool {
    let rule = /^[\p{L}\p{N}][_.\p{L}\p{N}]*[\p{L}\p{N}]+$/.matchingSemantics(.unicodeScalar)
    return name.wholeMatch(of: rule) != nil && name.unicodeScalars.count <= maximum && name.lowercased() == name
}

private let locals = [
    "john", "John.Doe+news", String(repeating: "abcdefghij", count: 10), "a", "+++", "jöhn.ßmith", "用户", "_x_", "1",
    "\"quoted@local\"", "ǅemal", "a.b", "x..y",
]
private let domains = ["gmail.com", "Example.ORG", "b", "[192.168.0.1]", "例え.jp", ".", "ｇｍａｉｌ.com"]

/// Every combination of the local parts and domains above, plus random ASCII addresses.
private func sampleAddresses(random count: Int, seed: UInt64) -> [String] {
    var rng = SplitMix64(state: seed)
    let alphabet = Array("abcxyz019._-+!")
    let random = (0..<count).map { _ in
        String((0..<Int.random(in: 1...30, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
            + "@" + domains.randomElement(using: &rng)!
    }
    return locals.flatMap { local in domains.map { local + "@" + $0 } } + random
}

@Suite("Login names: the extended form against squatting")
struct LoginNameCollisionTests {
    let mapper = try! LoginNameMapper()

    @Test("The colliding pair shares its canonical name but not its extended name")
    func collidingPair() throws {
        #expect(try LoginNameMapper.normalise(victim) != LoginNameMapper.normalise(squatter))
        #expect(try mapper.loginName(for: victim) == "john_gm_3058c34c")
        #expect(try mapper.loginName(for: squatter) == "john_gm_3058c34c")
        for maximum in 13...32 {
            let mapper = try LoginNameMapper(maximumLength: maximum)
            #expect(try mapper.loginName(for: victim) == mapper.loginName(for: squatter))
            #expect(try mapper.extendedLoginName(for: victim) != mapper.extendedLoginName(for: squatter))
        }
    }

    @Test("The extended name is fixed: local part, domain code, 64 bits of SHA-256 in 13 base-36 digits")
    func documentedValues() throws {
        // Expected values computed outside Swift: base 36 of the first 8 bytes of hashlib.sha256.
        #expect(try mapper.extendedLoginName(for: "john@gmail.com") == "john_gm_0b1o6odsg9sxf")
        #expect(try mapper.extendedLoginName(for: " John@Gmail.COM ") == "john_gm_0b1o6odsg9sxf")
        #expect(try mapper.extendedLoginName(for: "ｊｏｈｎ@ｇｍａｉｌ.ｃｏｍ") == "john_gm_0b1o6odsg9sxf")
        #expect(try mapper.extendedLoginName(for: victim) == "john_gm_150zz7nvkazwo")
        #expect(try mapper.extendedLoginName(for: squatter) == "john_gm_1i1ogtp0rbox1")
        // Too short for a local part: the digits alone.
        #expect(try LoginNameMapper(maximumLength: 17).extendedLoginName(for: "john@gmail.com") == "0b1o6odsg9sxf")
        #expect(try LoginNameMapper(maximumLength: 18).extendedLoginName(for: "john@gmail.com") == "j_gm_0b1o6odsg9sxf")
    }

    @Test("Long local parts are cut so that the extended name fits every maximum from 13 to 32")
    func lengthLimit() throws {
        let long = String(repeating: "abcdefghij", count: 10) + "@gmail.com"
        for maximum in 13...32 {
            let name = try LoginNameMapper(maximumLength: maximum).extendedLoginName(for: long)
            let expected = maximum > LoginNameMapper.extendedSuffixLength ? maximum : LoginNameMapper.extendedHashLength
            #expect(name.unicodeScalars.count == expected, "maximum \(maximum): \(name)")
            #expect(isLegalTinodeLogin(name, maximum: maximum), "maximum \(maximum): \(name)")
        }
        #expect(try mapper.extendedLoginName(for: long).hasPrefix("abcdefghi_gm_"))
    }

    @Test("Property: extended names are legal Tinode logins, within every maximum, and deterministic")
    func generatedAddresses() throws {
        let addresses = sampleAddresses(random: 2_000, seed: 0x19_03)
        for maximum in 13...32 {
            let mapper = try LoginNameMapper(maximumLength: maximum)
            for address in addresses {
                let name = try mapper.extendedLoginName(for: address)
                #expect(isLegalTinodeLogin(name, maximum: maximum), "\(address.debugDescription) -> \(name)")
                #expect(try mapper.extendedLoginName(for: address) == name)
                #expect(
                    try mapper.extendedLoginName(for: " " + address.uppercased() + "\n")
                        == mapper.extendedLoginName(for: address.uppercased()))
            }
        }
    }

    @Test("Property: an extended name never equals a canonical name (its last part has 13 characters, not 8)")
    func neverCanonical() throws {
        let addresses = sampleAddresses(random: 2_000, seed: 0x19_04)
        let hexDigits = Set("0123456789abcdef")
        let base36Digits = Set("0123456789abcdefghijklmnopqrstuvwxyz")
        for maximum in 13...32 {
            let mapper = try LoginNameMapper(maximumLength: maximum)
            var canonical = Set<String>()
            var extended = Set<String>()
            for address in addresses {
                let name = try mapper.loginName(for: address)
                let canonicalHash = name.split(separator: "_", omittingEmptySubsequences: false).last!
                #expect(canonicalHash.count == 8 && canonicalHash.allSatisfy(hexDigits.contains), "\(name)")
                canonical.insert(name)

                let long = try mapper.extendedLoginName(for: address)
                let extendedHash = long.split(separator: "_", omittingEmptySubsequences: false).last!
                #expect(extendedHash.count == LoginNameMapper.extendedHashLength, "\(long)")
                #expect(extendedHash.allSatisfy(base36Digits.contains), "\(long)")
                extended.insert(long)
            }
            #expect(canonical.isDisjoint(with: extended), "maximum \(maximum)")
        }
    }

    @Test("An address's login names are its canonical then its extended name, and no other address's")
    func membership() throws {
        let names = try mapper.loginNames(for: victim)
        #expect(try names == [mapper.loginName(for: victim), mapper.extendedLoginName(for: victim)])
        #expect(mapper.isLoginName("john_gm_3058c34c", of: victim))
        #expect(mapper.isLoginName("john_gm_150zz7nvkazwo", of: victim))
        #expect(mapper.isLoginName("JOHN_GM_150ZZ7NVKAZWO", of: " John@GM33663.example "))
        // The squatter holds the canonical name by collision, but never the victim's extended name.
        #expect(mapper.isLoginName("john_gm_3058c34c", of: squatter))
        #expect(!mapper.isLoginName("john_gm_150zz7nvkazwo", of: squatter))
        #expect(!mapper.isLoginName("john_gm_1i1ogtp0rbox1", of: victim))
        #expect(!mapper.isLoginName("john", of: victim))
        #expect(!mapper.isLoginName("john_gm_3058c34c", of: "no-at-sign"))
        #expect(throws: LoginNameError.missingAtSign) { try mapper.extendedLoginName(for: "no-at-sign") }
        #expect(throws: LoginNameError.controlCharacter) { try mapper.loginNames(for: "a\u{200D}@b.c") }
    }
}
