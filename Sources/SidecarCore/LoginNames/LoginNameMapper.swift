import Crypto
import Foundation

/// Maps e-mail addresses to deterministic Tinode `basic` login names.
///
/// Tinode login names cannot be e-mail addresses (its rule is `^[\pL\pN][_.\pL\pN]*[\pL\pN]+$`,
/// at most 32 code points), so every address gets the name
/// `<local>_<2 chars of the domain>_<first 8 hex of md5(normalised address)>`.
/// The same address always gives the same name; the hash keeps two addresses that sanitise to the
/// same local part apart. The exact rule is documented in the README ("Login names").
public struct LoginNameMapper: Sendable {
    /// Length of the fixed suffix `_xx_12345678`.
    public static let suffixLength = 12
    /// The default maximum (26): the PostgreSQL adapter stores `basic:<name>` in 32 characters.
    public static let defaultMaximumLength = 26
    /// Tinode's hard-coded maximum login length.
    public static let absoluteMaximumLength = 32
    /// Addresses longer than this (in UTF-8 bytes) are refused, as in RFC 5321's path limit.
    public static let maximumAddressBytes = 254
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

    /// The login name for `address`.
    /// - Throws: `LoginNameError` when the input is not an e-mail address; it is never mapped.
    public func loginName(for address: String) throws(LoginNameError) -> String {
        let normalised = try Self.normalise(address)
        // The last `@` separates the domain: a quoted local part may itself contain `@`.
        guard let at = normalised.lastIndex(of: "@") else { throw .missingAtSign }
        let localPart = normalised[..<at]
        let domain = normalised[normalised.index(after: at)...]
        guard !localPart.isEmpty else { throw .emptyLocalPart }
        guard !domain.isEmpty else { throw .emptyDomain }

        let digest = Insecure.MD5.hash(data: Array(normalised.utf8))
        let hex = digest.prefix(4).map { byte in
            let text = String(byte, radix: 16)
            return byte < 16 ? "0" + text : text
        }.joined()

        let local = Self.sanitisedLocalPart(localPart, limit: maximumLength - Self.suffixLength)
        let domainCode = Self.domainCode(domain)
        return "\(local)_\(domainCode)_\(hex)"
    }

    /// Trims white space, applies Unicode NFKC and lower-cases, then checks that the result can be
    /// an e-mail address. Applying it twice gives the same result as applying it once.
    public static func normalise(_ address: String) throws(LoginNameError) -> String {
        let trimmed = address.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw .empty }
        // Checked before normalising too, so a huge input is refused without further work.
        guard trimmed.utf8.count <= maximumAddressBytes * 4 else { throw .tooLong }
        // Lower-casing can un-normalise a few characters, so NFKC runs again after it.
        let normalised = trimmed.precomposedStringWithCompatibilityMapping.lowercased()
            .precomposedStringWithCompatibilityMapping
            .trimmingCharacters(in: .whitespacesAndNewlines)
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
    fileprivate func trimmingSeparators() -> String {
        trimmingCharacters(in: CharacterSet(charactersIn: "._"))
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
