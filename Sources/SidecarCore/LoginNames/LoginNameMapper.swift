import Crypto
import Foundation

/// Maps e-mail addresses to deterministic Tinode `basic` login names.
///
/// Tinode login names cannot be e-mail addresses (its rule is `^[\pL\pN][_.\pL\pN]*[\pL\pN]+$`,
/// at most 32 code points), so every address gets the name
/// `<local>_<2 chars of the domain>_<first 8 hex of md5(normalised address)>`.
/// The same address always gives the same name; the hash keeps two addresses that sanitise to the
/// same local part apart. Since 32 bits of md5 can be matched on purpose, every address also has an
/// extended name (``extendedLoginName(for:)``) for when its canonical name is squatted.
/// The exact rule is documented in the README ("Login names").
public struct LoginNameMapper: Sendable {
    /// Length of the fixed suffix `_xx_12345678`.
    public static let suffixLength = 12
    /// The default maximum (26): the PostgreSQL adapter stores `basic:<name>` in 32 characters.
    public static let defaultMaximumLength = 26
    /// Tinode's hard-coded maximum login length.
    public static let absoluteMaximumLength = 32
    /// Addresses longer than this (in UTF-8 bytes) are refused, as in RFC 5321's path limit.
    public static let maximumAddressBytes = 254
    /// Bits of SHA-256 in an extended name (``extendedLoginName(for:)``).
    ///
    /// Squatting a given victim's extended name needs another address, with the same local part and
    /// domain code, whose SHA-256 starts with the same 64 bits: a targeted second preimage, about
    /// 2^64 ≈ 1.8 × 10^19 hashes. At 2 × 10^10 SHA-256 per second, a high-end GPU's rate, that is
    /// about 29 GPU-years for one victim, who merely cannot register. A mere collision between two
    /// addresses of the attacker's own choosing (2^32 work) blocks no one else.
    public static let extendedHashBits = 64
    /// 64 bits written in lower-case base 36 (`0-9a-z`), padded with `0`: 36^13 > 2^64.
    /// Hex would need 16 characters and could not fit a name of at most 13.
    public static let extendedHashLength = 13
    /// Length of the extended name's fixed suffix `_xx_` + 13 digits.
    public static let extendedSuffixLength = extendedHashLength + 4
    /// Used when nothing of the local part survives sanitising.
    public static let emptyLocalPartWord = "user"
    /// Used to pad domains with fewer than two usable characters.
    public static let domainPadding: Character = "x"

    /// The longest name this mapper produces, in Unicode code points.
    public let maximumLength: Int

    /// Creates a mapper whose names are at most `maximumLength` code points long.
    /// - Throws: `LoginNameError.invalidMaximumLength` outside `13...32`.
    public init(maximumLength: Int = LoginNameMapper.defaultMaximumLength) throws {
        guard (Self.suffixLength + 1...Self.absoluteMaximumLength).contains(maximumLength) else {
            throw LoginNameError.invalidMaximumLength(maximumLength)
        }
        self.maximumLength = maximumLength
    }

    /// The login name for `address`: its canonical name.
    /// - Throws: `LoginNameError` when the input is not an e-mail address; it is never mapped.
    public func loginName(for address: String) throws(LoginNameError) -> String {
        let parts = try Self.parts(of: address)
        let digest = Insecure.MD5.hash(data: Array(parts.normalised.utf8))
        let hex = digest.prefix(4).map { byte in
            let text = String(byte, radix: 16)
            return byte < 16 ? "0" + text : text
        }.joined()

        let local = Self.sanitisedLocalPart(parts.localPart, limit: maximumLength - Self.suffixLength)
        let domainCode = Self.domainCode(parts.domain)
        return "\(local)_\(domainCode)_\(hex)"
    }

    /// The extended login name for `address`: the name it gets when its canonical name is already
    /// held by an account with a different address.
    ///
    /// The canonical name carries only 32 bits of md5, so an attacker can find offline an address
    /// with the same local part and domain code whose canonical name equals a victim's, and register
    /// it first (bench/login-name-collision.py finds such a pair in under a second). The extended name
    /// carries 64 bits of SHA-256 instead: `<local>_<code>_<13 base-36 digits>`, the local part cut to
    /// `maximum − 17` code points. When the maximum is too short for even one character of local part
    /// (13 to 17), it is the 13 digits alone. Either way its last `_`-separated part is 13 characters
    /// long and a canonical name's is 8, so an extended name never equals any canonical name.
    /// - Throws: `LoginNameError` when the input is not an e-mail address; it is never mapped.
    public func extendedLoginName(for address: String) throws(LoginNameError) -> String {
        let parts = try Self.parts(of: address)
        let digest = SHA256.hash(data: Array(parts.normalised.utf8))
        let bits = digest.prefix(Self.extendedHashBits / 8).reduce(UInt64(0)) { ($0 << 8) | UInt64($1) }
        let digits = String(bits, radix: 36)
        let hash = String(repeating: "0", count: Self.extendedHashLength - digits.count) + digits

        let localLimit = maximumLength - Self.extendedSuffixLength
        guard localLimit >= 1 else { return hash }
        let local = Self.sanitisedLocalPart(parts.localPart, limit: localLimit)
        return "\(local)_\(Self.domainCode(parts.domain))_\(hash)"
    }

    /// Both login names of `address`, canonical first: the name an account with that address may have.
    /// - Throws: `LoginNameError` when the input is not an e-mail address.
    public func loginNames(for address: String) throws(LoginNameError) -> [String] {
        [try loginName(for: address), try extendedLoginName(for: address)]
    }

    /// Whether `login` is the canonical or the extended name of `address`. Tinode lower-cases `basic`
    /// logins, so case does not matter; an input that is not an e-mail address has no names.
    public func isLoginName(_ login: String, of address: String) -> Bool {
        guard let names = try? loginNames(for: address) else { return false }
        return names.contains(login.lowercased())
    }

    /// The normalised address split at its last `@` (a quoted local part may itself contain `@`).
    private static func parts(
        of address: String
    ) throws(LoginNameError) -> (normalised: String, localPart: Substring, domain: Substring) {
        let normalised = try normalise(address)
        guard let at = normalised.lastIndex(of: "@") else { throw .missingAtSign }
        let localPart = normalised[..<at]
        let domain = normalised[normalised.index(after: at)...]
        guard !localPart.isEmpty else { throw .emptyLocalPart }
        guard !domain.isEmpty else { throw .emptyDomain }
        return (normalised, localPart, domain)
    }

    /// Trims white space, applies Unicode NFKC and lower-cases, then checks that the result can be
    /// an e-mail address. Applying it twice gives the same result as applying it once.
    public static func normalise(_ address: String) throws(LoginNameError) -> String {
        let trimmed = Self.trimmingWhiteSpace(address)
        guard !trimmed.isEmpty else { throw .empty }
        // Checked before normalising too, so a huge input is refused without further work.
        guard trimmed.utf8.count <= maximumAddressBytes * 4 else { throw .tooLong }
        // Lower-casing can un-normalise a few characters, so NFKC runs again after it.
        var normalised = trimmed.precomposedStringWithCompatibilityMapping.lowercased()
            .precomposedStringWithCompatibilityMapping
        normalised = Self.trimmingWhiteSpace(normalised)
        guard normalised.utf8.count <= maximumAddressBytes else { throw .tooLong }
        if normalised.unicodeScalars.contains(where: isControl) { throw .controlCharacter }
        guard normalised.contains("@") else { throw .missingAtSign }
        return normalised
    }

    /// Keeps the characters Tinode accepts, turns every other one into `_`, strips separators at
    /// both ends and cuts to `limit` code points.
    static func sanitisedLocalPart(_ local: Substring, limit: Int) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in local.unicodeScalars {
            if isLoginLetterOrDigit(scalar) || scalar == "." || scalar == "_" {
                scalars.append(scalar)
            } else {
                scalars.append("_")
            }
        }
        var result = String(scalars).trimmingSeparators()
        if result.isEmpty { result = emptyLocalPartWord }
        if result.unicodeScalars.count > limit {
            result = String(String.UnicodeScalarView(result.unicodeScalars.prefix(limit)))
                .trimmingSeparators()
        }
        return result
    }

    /// The first two letters or digits of the domain, padded with `x` when there are fewer.
    static func domainCode(_ domain: Substring) -> String {
        var code = String.UnicodeScalarView()
        for scalar in domain.unicodeScalars where isLoginLetterOrDigit(scalar) {
            code.append(scalar)
            if code.count == 2 { break }
        }
        var result = String(code)
        while result.unicodeScalars.count < 2 { result.append(domainPadding) }
        return result
    }

    /// A letter or digit that Tinode's `\pL`/`\pN` accept and its lower-casing leaves alone.
    ///
    /// Only characters assigned by Unicode 15.0 count: Tinode's Go runtime knows no newer ones,
    /// so a newer letter would pass here and be refused there.
    static func isLoginLetterOrDigit(_ scalar: Unicode.Scalar) -> Bool {
        let properties = scalar.properties
        guard let age = properties.age, age.major < 15 || (age.major == 15 && age.minor == 0) else {
            return false
        }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
            .decimalNumber, .letterNumber, .otherNumber:
            return properties.lowercaseMapping == String(scalar)
        default:
            return false
        }
    }

    /// `text` without Unicode `White_Space` scalars at either end: the set Foundation's
    /// `.whitespacesAndNewlines` names, trimmed in Swift because swift-corelibs-foundation's
    /// `trimmingCharacters` crashed once under a parallel test run (NSString bridging).
    static func trimmingWhiteSpace(_ text: String) -> String {
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })!
        return String(scalars[first...last])
    }

    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .unassigned, .privateUse:
            return true
        default:
            return false
        }
    }
}

extension String {
    /// Drops leading and trailing `.` and `_`, in Swift (no NSString bridging, as in
    /// `trimmingWhiteSpace`).
    fileprivate func trimmingSeparators() -> String {
        let isSeparator: (Character) -> Bool = { $0 == "." || $0 == "_" }
        guard let first = firstIndex(where: { !isSeparator($0) }), let last = lastIndex(where: { !isSeparator($0) }) else { return "" }
        return String(self[first...last])
    }
}

/// Why an input was not mapped to a login name.
public enum LoginNameError: Error, Equatable, Sendable, CustomStringConvertible {
    case empty
    case missingAtSign
    case emptyLocalPart
    case emptyDomain
    case tooLong
    case controlCharacter
    case invalidMaximumLength(Int)

    public var description: String {
        switch self {
        case .empty: "the address is empty"
        case .missingAtSign: "the address has no '@'"
        case .emptyLocalPart: "the address has nothing before the '@'"
        case .emptyDomain: "the address has nothing after the '@'"
        case .tooLong: "the address is longer than \(LoginNameMapper.maximumAddressBytes) bytes"
        case .controlCharacter: "the address contains a control or invisible formatting character"
        case .invalidMaximumLength(let length):
            "login name maximum \(length) is outside \(LoginNameMapper.suffixLength + 1)...\(LoginNameMapper.absoluteMaximumLength)"
        }
    }
}
