import Foundation

/// The rules of Tinode's `basic` authenticator (tinode-protocol.md 4.1 and 8).
enum BasicLoginPolicy {
    /// Hard-coded in Tinode; longer names are a policy violation whatever the adapter.
    static let maxLoginLength = 32

    /// Splits `login:password` at the first colon and lower-cases the login; nil (400) without a colon.
    static func split(secret: Data) -> (login: String, password: String)? {
        let text = String(decoding: secret, as: UTF8.self)
        guard let colon = text.firstIndex(of: ":") else { return nil }
        return (text[..<colon].lowercased(), String(text[text.index(after: colon)...]))
    }

    /// `^[\pL\pN][_.\pL\pN]*[\pL\pN]+$`, counted in code points, between `minLength` and 32.
    static func isAcceptable(login: String, minLength: Int) -> Bool {
        let scalars = Array(login.unicodeScalars)
        guard scalars.count >= max(minLength, 2), scalars.count <= maxLoginLength else { return false }
        guard isLetterOrNumber(scalars.first!), isLetterOrNumber(scalars.last!) else { return false }
        return scalars.allSatisfy { isLetterOrNumber($0) || $0 == "_" || $0 == "." }
    }

    static func isAcceptable(password: String, minLength: Int) -> Bool {
        password.unicodeScalars.count >= minLength
    }

    private static func isLetterOrNumber(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
            .decimalNumber, .letterNumber, .otherNumber:
            true
        default:
            false
        }
    }
}
