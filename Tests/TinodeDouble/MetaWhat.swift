/// The parts a get query asks for (`what`: space-separated words; unknown words are ignored).
struct MetaWhat: OptionSet, Sendable {
    let rawValue: Int

    static let desc = MetaWhat(rawValue: 1 << 0)
    static let sub = MetaWhat(rawValue: 1 << 1)
    static let data = MetaWhat(rawValue: 1 << 2)
    static let tags = MetaWhat(rawValue: 1 << 3)
    static let cred = MetaWhat(rawValue: 1 << 4)
    static let del = MetaWhat(rawValue: 1 << 5)
    static let aux = MetaWhat(rawValue: 1 << 6)

    init(rawValue: Int) {
        self.rawValue = rawValue
    }

    init(parsing what: String) {
        let words: [String: MetaWhat] = [
            "desc": .desc, "sub": .sub, "data": .data, "tags": .tags, "cred": .cred, "del": .del, "aux": .aux,
        ]
        self = what.split(separator: " ").reduce(into: []) { parts, word in parts.formUnion(words[String(word)] ?? []) }
    }
}
