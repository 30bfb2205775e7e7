import SidecarCore

/// Rewrites proven e-mail addresses in a `fnd` search into the tags Tinode indexes for their owner.
///
/// Tinode's query language separates AND terms by spaces and OR alternatives by commas
/// (tinode-protocol.md 8). Each alternative that is an e-mail address, bare (`alice@example.com`) or
/// as a tag (`email:alice@example.com`), and that an account proved (``ProvenAddressStore``), becomes
/// `email:<address>`: the tag Tinode adds once its validator proved the address (a namespace clients
/// cannot set while the validator is configured), and the tag AuthPlugin gives an account it creates
/// for a backend token whose address is verified. Never the address's `basic:`/`rest:` login-name
/// tags: a canonical name may be held by an account with another, colliding address, and a `rest:`
/// tag may come from a token whose address nobody verified; a search for the address must not lead
/// to either. An address nobody proved is left as written. Everything else is kept as written too.
struct FindRewriter: Sendable {
    let loginNames: LoginNameMapper
    let proofs: any ProvenAddressStore

    /// Distinct addresses looked up per query; further ones are left as written, so that one long
    /// query cannot make a store round trip per address for as long as Tinode's deadline allows.
    static let maximumLookups = 16

    /// Whether `query` holds an e-mail address at all: only then is the store asked.
    func mentionsAddress(_ query: String) -> Bool {
        Self.terms(of: query).contains { term in term.split(separator: ",").contains { address(in: $0) != nil } }
    }

    /// The rewritten query, or nil when no alternative is a proven address.
    /// - Throws: what the ``ProvenAddressStore`` throws.
    func rewrite(_ query: String) async throws -> String? {
        var changed = false
        var tagsByAddress: [String: [String]?] = [:]
        var terms: [String] = []
        for term in Self.terms(of: query) {
            var alternatives: [String] = []
            for alternative in term.split(separator: ",") {
                var replacement: [String]?
                if let email = address(in: alternative) {
                    if let known = tagsByAddress[email] {
                        replacement = known
                    } else if tagsByAddress.count < Self.maximumLookups {
                        replacement = try await tags(ofProven: email)
                        tagsByAddress[email] = .some(replacement)
                    }
                }
                if let replacement {
                    changed = true
                    for tag in replacement where !alternatives.contains(tag) { alternatives.append(tag) }
                } else if !alternatives.contains(String(alternative)) {
                    alternatives.append(String(alternative))
                }
            }
            terms.append(alternatives.joined(separator: ","))
        }
        guard changed else { return nil }
        return terms.filter { !$0.isEmpty }.joined(separator: " ")
    }

    private static func terms(of query: String) -> [Substring] {
        query.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
    }

    /// The normalised address of one alternative that is an e-mail address with login names, else nil.
    private func address(in alternative: Substring) -> String? {
        var text = alternative
        if text.lowercased().hasPrefix("email:") { text = text.dropFirst(6) }
        // Another namespace (`basic:x@y`, `tel:...`) is not an address to rewrite.
        guard text.contains("@"), !text.contains(":") else { return nil }
        guard let email = try? LoginNameMapper.normalise(String(text)), (try? loginNames.loginName(for: email)) != nil else {
            return nil
        }
        return email
    }

    /// The owner's tag when `email` is proven, else nil.
    private func tags(ofProven email: String) async throws -> [String]? {
        guard try await proofs.owner(ofEmail: email) != nil else { return nil }
        return ["email:\(email)"]
    }
}
