/// A Tinode access mode (`JRWPASDO` letters; `N` for none). Only what the double needs: parsing,
/// the canonical text, intersection (the effective mode is want & given) and permission checks.
struct AccessMode: Equatable, Sendable {
    private static let letters: [Character] = ["J", "R", "W", "P", "A", "S", "D", "O"]

    private var bits: UInt8

    static let none = AccessMode(bits: 0)

    private init(bits: UInt8) {
        self.bits = bits
    }

    /// Unknown letters are ignored; "N" or "" is no access.
    init(_ text: String) {
        var bits: UInt8 = 0
        for character in text.uppercased() {
            if let position = Self.letters.firstIndex(of: character) { bits |= 1 << position }
        }
        self.bits = bits
    }

    var text: String {
        guard bits != 0 else { return "N" }
        return String(Self.letters.enumerated().filter { bits & (1 << $0.offset) != 0 }.map(\.element))
    }

    func intersection(_ other: AccessMode) -> AccessMode {
        AccessMode(bits: bits & other.bits)
    }

    func allows(_ letter: Character) -> Bool {
        guard let position = Self.letters.firstIndex(of: letter) else { return false }
        return bits & (1 << position) != 0
    }

    /// Owners, admins and sharers see default access and are told about others' access changes.
    var isSharer: Bool { allows("S") || allows("A") || allows("O") }
}
