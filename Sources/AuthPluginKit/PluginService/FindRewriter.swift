import SidecarCore

/// Rewrites e-mail addresses in a `fnd` search into the tags Tinode indexes for that user.
///
/// Tinode's query language separates AND terms by spaces and OR alternatives by commas
/// (tinode-protocol.md 8). Each alternative that is an e-mail address, bare (`alice@example.com`) or
/// as a tag (`email:alice@example.com`), becomes three alternatives: `email:<address>` (set once the
/// address is validated), `basic:<login name>` (accounts made through `basic` with the mapped login,
/// such as the Gateway's) and `rest:<login name>` (accounts made through REST-auth). Everything else
/// is kept as written.
struct FindRewriter: Sendable {
    let loginNames: LoginNameMapper

    /// The rewritten query, or nil when it contains no e-mail address.
    func rewrite(_ query: String) -> String? {
        var changed = false
        let terms = query.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map { term -> String in
            var alternatives: [String] = []
            for alternative in term.split(separator: ",") {
                if let tags = tags(for: alternative) {
                    changed = true
                    for tag in tags where !alternatives.contains(tag) { alternatives.append(tag) }
                } else if !alternatives.contains(String(alternative)) {
                    alternatives.append(String(alternative))
                }
            }
            return alternatives.joined(separator: ",")
        }
        guard changed else { return nil }
        return terms.filter { !$0.isEmpty }.joined(separator: " ")
    }

    /// The tags for one alternative that is an e-mail address, else nil.
    private func tags(for alternative: Substring) -> [String]? {
        var text = alternative
        if text.lowercased().hasPrefix("email:") { text = text.dropFirst(6) }
        // Another namespace (`basic:x@y`, `tel:...`) is not an address to rewrite.
        guard text.contains("@"), !text.contains(":") else { return nil }
        guard let email = try? LoginNameMapper.normalise(String(text)), let login = try? loginNames.loginName(for: email) else {
            return nil
        }
        return ["email:\(email)", "basic:\(login)", "rest:\(login)"]
    }
}
