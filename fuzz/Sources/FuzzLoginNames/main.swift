// libFuzzer target: the e-mail -> login name mapping (README, "Login names").
//
// Invariants checked on every input:
// * the mapping never crashes; refused input is refused with a `LoginNameError`;
// * every name matches Tinode's basic login rule `^[\pL\pN][_.\pL\pN]*[\pL\pN]+$` after Go's
//   lower-casing (so it must already be lower case), with letters and digits that Unicode 15.0
//   knows, and is at most the configured maximum of code points;
// * the name ends in `_<2 letters or digits>_<8 lower-case hex digits>`;
// * the mapping is deterministic, and mapping the normalised address gives the same name.
//
// The first input byte picks the maximum length (13 to 32); the rest is the address as UTF-8,
// invalid sequences replaced (Swift strings are always valid Unicode).
import FuzzSupport
import SidecarCore

enum LoginNameFuzzing {
    static let mappers: [LoginNameMapper] = (13...32).map { try! LoginNameMapper(maximumLength: $0) }

    static func check(_ bytes: UnsafeRawBufferPointer) {
        guard let first = bytes.first else { return }
        let mapper = mappers[Int(first) % mappers.count]
        let address = String(decoding: bytes.dropFirst(), as: UTF8.self)
        let name: String
        do {
            name = try mapper.loginName(for: address)
        } catch {
            return
        }
        guard isTinodeLogin(name, maximumLength: mapper.maximumLength) else {
            fatalError("illegal login name \(name.debugDescription) for \(address.debugDescription)")
        }
        guard hasSuffixShape(name) else { fatalError("bad suffix in \(name.debugDescription)") }
        guard (try? mapper.loginName(for: address)) == name else { fatalError("not deterministic: \(address.debugDescription)") }
        guard let normalised = try? LoginNameMapper.normalise(address), (try? mapper.loginName(for: normalised)) == name else {
            fatalError("normalised address maps elsewhere: \(address.debugDescription)")
        }
    }

    /// Tinode's rule, written independently of the mapper.
    static func isTinodeLogin(_ name: String, maximumLength: Int) -> Bool {
        let scalars = Array(name.unicodeScalars)
        guard scalars.count >= 2, scalars.count <= maximumLength, name.lowercased() == name else { return false }
        guard isLetterOrDigit(scalars[0]), isLetterOrDigit(scalars[scalars.count - 1]) else { return false }
        return scalars.allSatisfy { isLetterOrDigit($0) || $0 == "_" || $0 == "." }
    }

    static func isLetterOrDigit(_ scalar: Unicode.Scalar) -> Bool {
        guard let age = scalar.properties.age, (age.major, age.minor) <= (15, 0) else { return false }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter, .decimalNumber,
            .letterNumber, .otherNumber:
            return true
        default:
            return false
        }
    }

    static func hasSuffixShape(_ name: String) -> Bool {
        let scalars = Array(name.unicodeScalars)
        guard scalars.count >= 13 else { return false }
        let suffix = scalars.suffix(12)
        let hex = suffix.suffix(8)
        let code = suffix.dropFirst().prefix(2)
        return suffix.first == "_" && suffix[suffix.startIndex + 3] == "_"
            && hex.allSatisfy { ("0"..."9").contains($0) || ("a"..."f").contains($0) } && code.allSatisfy(isLetterOrDigit)
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLoginNames(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    LoginNameFuzzing.check(UnsafeRawBufferPointer(start: start, count: count))
    return 0
}

runFuzzer { data, count in
    guard let data else { return 0 }
    return fuzzLoginNames(data, count)
}
