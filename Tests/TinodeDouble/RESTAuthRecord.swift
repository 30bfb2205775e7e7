import Foundation

/// Tinode's `auth.Rec` on the REST-auth wire (tinode-protocol.md 1.3): read from an `auth` answer
/// with Go's rules, and written back in `link` the way Go writes it. Reading is strict where Tinode
/// is, because a value Go refuses turns the whole answer into 500 "internal error".
struct RESTAuthRecord: Sendable {
    /// `types.ObjState` names; Go reads them ignoring case.
    enum State: String, Sendable {
        case ok
        case suspended = "susp"
        case deleted = "del"
        case undefined = "undef"
    }

    /// Feature bits: `V` (credentials validated) and `L` (the token must not log a session in).
    static let validatedFeature: UInt16 = 1
    static let noLoginFeature: UInt16 = 2

    /// The user number; 0 means none (an omitted uid, or one that decodes to zero).
    var uid: UInt64 = 0
    var level = AuthLevel.none
    var lifetimeNanoseconds: Int64 = 0
    var features: UInt16 = 0
    var tags: [String]?
    var state = State.ok
    var credential = ""
    var defaultAccess: DefaultAccess?
    var publicValue: JSONValue?
    var privateValue: JSONValue?

    /// A JSON object as Go decodes it into `auth.Rec`; nil where Go's `json.Unmarshal` fails. A
    /// `null` is an error for every field with its own decoder (uid, authlvl, lifetime, features,
    /// State), as those decoders get the text `null` and refuse it.
    init?(goObject members: [String: JSONValue]) {
        if let value = members.goField("uid") {
            // Base64url only: Go's decoder refuses `+` and `/`, which `TinodeID.decode` would take.
            guard case .string(let text) = value, text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }),
                let number = TinodeID.decode(Substring(text))
            else { return nil }
            uid = number
        }
        if let value = members.goField("authlvl") {
            guard case .string(let text) = value, let parsed = Self.level(text) else { return nil }
            level = parsed
        }
        if let value = members.goField("lifetime") {
            switch value {
            // Seconds; Go converts the float to whole seconds first.
            case .number(let seconds):
                guard let whole = Int64(exactly: seconds.rounded(.towardZero)) else { return nil }
                lifetimeNanoseconds = whole.multipliedReportingOverflow(by: 1_000_000_000).partialValue
            case .string(let text):
                guard let nanoseconds = GoDuration.nanoseconds(text) else { return nil }
                lifetimeNanoseconds = nanoseconds
            default: return nil
            }
        }
        if let value = members.goField("features") {
            guard let parsed = Self.features(value) else { return nil }
            features = parsed
        }
        if let value = members.goField("tags") {
            guard let parsed = Self.strings(value) else { return nil }
            tags = parsed
        }
        if let value = members.goField("State") {
            guard case .string(let text) = value else { return nil }
            let folded = text.lowercased()
            guard let parsed = folded.isEmpty ? .ok : State(rawValue: folded) else { return nil }
            state = parsed
        }
        if let value = members.goField("cred") {
            switch value {
            case .string(let text): credential = text
            case .null: break
            default: return nil
            }
        }
        if let value = members.goField("defacs") {
            switch value {
            case .null: break
            case .object(let modes):
                var access = DefaultAccess(auth: .none, anon: .none)
                for (name, keyPath) in [("Auth", \DefaultAccess.auth), ("Anon", \DefaultAccess.anon)] {
                    guard let mode = modes.goField(name) else { continue }
                    switch mode {
                    case .null: continue
                    case .string(let text):
                        switch GoAccessText(text) {
                        case .invalid: return nil
                        case .unset: continue
                        case .mode(let parsed): access[keyPath: keyPath] = parsed
                        }
                    default: return nil
                    }
                }
                defaultAccess = access
            default: return nil
            }
        }
        publicValue = members.goField("public").flatMap { $0 == .null ? nil : $0 }
        privateValue = members.goField("private").flatMap { $0 == .null ? nil : $0 }
    }

    /// As Go's `json.Marshal` writes it: struct field order, empty values left out except `State`,
    /// the uid bare (no `usr`), the lifetime in nanoseconds, features as letters.
    var goJSON: Data {
        var members: [(String, Data)] = []
        if uid != 0 { members.append(("uid", GoJSON.string(TinodeID.encode(uid)))) }
        if level != .none { members.append(("authlvl", GoJSON.string(level.name))) }
        if lifetimeNanoseconds != 0 { members.append(("lifetime", Data(String(lifetimeNanoseconds).utf8))) }
        if features != 0 {
            let letters = (features & Self.validatedFeature != 0 ? "V" : "") + (features & Self.noLoginFeature != 0 ? "L" : "")
            members.append(("features", GoJSON.string(letters)))
        }
        if let tags, !tags.isEmpty { members.append(("tags", GoJSON.stringArray(tags))) }
        members.append(("State", GoJSON.string(state.rawValue)))
        if !credential.isEmpty { members.append(("cred", GoJSON.string(credential))) }
        if let defaultAccess {
            members.append(
                (
                    "defacs",
                    GoJSON.object([
                        ("Auth", GoJSON.string(defaultAccess.auth.text)), ("Anon", GoJSON.string(defaultAccess.anon.text)),
                    ])
                ))
        }
        if let publicValue { members.append(("public", GoJSON.encode(publicValue))) }
        if let privateValue { members.append(("private", GoJSON.encode(privateValue))) }
        return GoJSON.object(members)
    }

    /// Only these spellings: Go's `auth.Level` knows no other case variants.
    private static func level(_ text: String) -> AuthLevel? {
        switch text {
        case "": AuthLevel.none
        case "anon", "ANON": .anonymous
        case "auth", "AUTH": .authenticated
        case "root", "ROOT": .root
        default: nil
        }
    }

    /// A number or a digit string (the bits), or letters V/L in either case; "" is none.
    private static func features(_ value: JSONValue) -> UInt16? {
        switch value {
        case .number(let number):
            // Go parses the number's text as an integer: no sign, no fraction.
            guard number >= 0, let whole = Int64(exactly: number) else { return nil }
            return UInt16(truncatingIfNeeded: whole)
        case .string(let text):
            guard let first = text.first else { return 0 }
            if first.isASCII, first.isNumber {
                guard let whole = Int64(text) else { return nil }
                return UInt16(truncatingIfNeeded: whole)
            }
            var bits: UInt16 = 0
            for character in text {
                switch character {
                case "V", "v": bits |= validatedFeature
                case "L", "l": bits |= noLoginFeature
                default: return nil
                }
            }
            return bits
        default:
            return nil
        }
    }

    /// A JSON array of strings (a `null` element is ""), or `null` for none.
    static func strings(_ value: JSONValue) -> [String]? {
        switch value {
        case .null: return []
        case .array(let elements):
            var strings: [String] = []
            for element in elements {
                switch element {
                case .string(let text): strings.append(text)
                case .null: strings.append("")
                default: return nil
                }
            }
            return strings
        default: return nil
        }
    }
}
