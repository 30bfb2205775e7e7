/// The end user's IP address as Tinode reports it in `Session.remote_addr`.
///
/// Tinode writes `ip:port` (`127.0.0.1:53012`, `[::1]:53012`) for gRPC and direct connections, and
/// the `X-Forwarded-For` value behind a proxy with `use_x_forwarded_for` (tinode-protocol.md 1.3),
/// which may be a bare address or a list whose first entry is the client.
enum ClientAddress {
    /// The host part, without port or brackets; nil when `remoteAddr` is empty.
    static func host(of remoteAddr: String) -> String? {
        var text = Substring(remoteAddr)
        if let comma = text.firstIndex(of: ",") { text = text[..<comma] }
        text = text.drop(while: { $0 == " " })
        while text.last == " " { text.removeLast() }
        guard !text.isEmpty else { return nil }
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return String(text) }
            return String(text[text.index(after: text.startIndex)..<close])
        }
        // One colon: IPv4 (or a name) with a port. More: a bare IPv6 address.
        if let colon = text.firstIndex(of: ":"), text.lastIndex(of: ":") == colon {
            return String(text[..<colon])
        }
        return String(text)
    }

}
