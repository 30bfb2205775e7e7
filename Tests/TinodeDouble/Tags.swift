import Foundation

/// Tag rules of the fixture server: tags are trimmed, lower-cased, 2 to 96 characters, at most 16,
/// and clients may not set tags in the namespaces authenticators own (`basic:` from basic's
/// `add_to_tags`, `email:` and `tel:` from the stock validators).
enum Tags {
    static let minLength = 2
    static let maxLength = 96
    static let maxCount = 16
    private static let restrictedNamespaces = ["basic", "email", "tel"]

    static func normalize(_ raw: [String]) -> [String] {
        var seen = Set<String>()
        var tags: [String] = []
        for tag in raw {
            let clean = tag.trimmingCharacters(in: .whitespaces).lowercased()
            guard (minLength...maxLength).contains(clean.count), seen.insert(clean).inserted else { continue }
            tags.append(clean)
        }
        return Array(tags.prefix(maxCount))
    }

    static func isRestricted(_ tag: String) -> Bool {
        guard let colon = tag.firstIndex(of: ":") else { return false }
        return restrictedNamespaces.contains(String(tag[..<colon]))
    }
}
