/// The keys topics are stored under. Groups are stored under their name. A p2p topic is stored under
/// `p2p` + both users' ids (without `usr`, in sorted order), so that it is one topic whichever side
/// names it; clients never see that key (fixture j), each names the topic by the other user's id.
enum TopicKey {
    static let p2pPrefix = "p2p"
    private static let idLength = 11

    static func p2p(_ one: String, _ other: String) -> String {
        let pair = [one, other].sorted()
        return p2pPrefix + pair[0].dropFirst(3) + pair[1].dropFirst(3)
    }

    /// The two `usr...` ids behind a p2p key; nil for any other key.
    static func p2pUsers(_ key: String) -> (String, String)? {
        guard key.hasPrefix(p2pPrefix), key.count == p2pPrefix.count + 2 * idLength else { return nil }
        let ids = key.dropFirst(p2pPrefix.count)
        return ("usr" + ids.prefix(idLength), "usr" + ids.suffix(idLength))
    }
}
