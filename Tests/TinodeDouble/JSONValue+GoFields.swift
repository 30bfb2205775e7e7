extension [String: JSONValue] {
    /// The member Go's `encoding/json` puts into the struct field `name`: the key spelled exactly so,
    /// else one that matches it ignoring case (`"state"` fills `State`). When several keys differ
    /// only in case Go keeps the last one in the text, which a parsed object no longer knows; the
    /// double takes the first in sorted order.
    func goField(_ name: String) -> JSONValue? {
        if let exact = self[name] { return exact }
        let folded = name.lowercased()
        return keys.sorted().first { $0.lowercased() == folded }.flatMap { self[$0] }
    }
}
