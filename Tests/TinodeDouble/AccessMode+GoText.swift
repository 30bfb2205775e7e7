/// Access mode text as Tinode's Go code reads it (`types.ParseAcs`), which is stricter than
/// `AccessMode.init(_:)`: REST-auth answers carry modes in `newacc` and `rec.defacs`.
enum GoAccessText: Equatable, Sendable {
    /// A letter outside `JRWPASDON`, or `N` after other letters.
    case invalid
    /// "": Go leaves the mode as it was.
    case unset
    case mode(AccessMode)

    init(_ text: String) {
        var letters = ""
        for character in text {
            switch character {
            case "J", "j", "R", "r", "W", "w", "P", "p", "A", "a", "S", "s", "D", "d", "O", "o":
                letters.append(character)
            case "N", "n":
                // N is "no access" and ends the text; whatever follows is not read.
                guard letters.isEmpty else {
                    self = .invalid
                    return
                }
                self = .mode(.none)
                return
            default:
                self = .invalid
                return
            }
        }
        self = letters.isEmpty ? .unset : .mode(AccessMode(letters))
    }
}
