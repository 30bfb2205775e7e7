/// Finds the client a request came from, for the per-client rate limits (`TRUSTED_PROXIES`).
///
/// Behind a reverse proxy every request comes from the proxy's address, so keying limits on the
/// socket's peer puts all users into one bucket, and one client then locks everyone out. The proxy
/// says whom it forwarded for in `X-Forwarded-For` or `Forwarded`, but any client can send those
/// headers too, so they are believed only:
/// * when the peer is a trusted proxy (otherwise the peer is the client, whatever it claims);
/// * from the right: each proxy appends the peer it saw, so the list is read from its right end,
///   passing over addresses of trusted proxies, and the first address that is not one is the
///   client. Whatever a client wrote to the left of it is never read.
///
/// Anything unclear counts the request against the peer (the proxy) instead: an entry that is not an
/// address where one is needed, a `Forwarded` line that is not RFC 7239, a hop without `for`. So do
/// both headers naming different clients: a proxy that writes one of them passes the other on from
/// the client as it came, and nothing tells which is which. A client can thereby only move itself
/// into the proxy's bucket, never into somebody else's.
public struct ClientAddressResolver: Sendable {
    /// The proxies whose forwarding headers are believed; empty: none.
    public let trustedProxies: NetworkAllowList

    public init(trustedProxies: NetworkAllowList = NetworkAllowList(parsing: "")!) {
        self.trustedProxies = trustedProxies
    }

    /// The client of a request whose socket peer is `peer` (an IP address; nil when the socket has
    /// none, e.g. a Unix socket), given every line of its `X-Forwarded-For` and `Forwarded` headers.
    /// Nil only when there is no peer address.
    public func client(peer: String?, xForwardedFor: [String], forwarded: [String]) -> ClientIP? {
        guard let peer = peer.flatMap({ ClientIP($0) }) else { return nil }
        guard isTrusted(peer) else { return peer }
        let named = [
            chainClient(ForwardingHeaders.xForwardedFor(xForwardedFor).map { Optional($0) }),
            ForwardingHeaders.forwarded(forwarded).map(chainClient) ?? .unclear,
        ]
        switch (named[0], named[1]) {
        case (.absent, .absent): return peer
        case (.client(let client), .absent), (.absent, .client(let client)): return client
        case (.client(let one), .client(let other)) where one == other: return one
        default: return peer
        }
    }

    private enum Named: Equatable {
        /// The header is missing or lists nothing.
        case absent
        case client(ClientIP)
        /// Not usable where it matters: count the request against the peer.
        case unclear
    }

    /// Reads a chain of hops (farthest first; nil: a hop that named no one) from the right.
    private func chainClient(_ hops: [String?]) -> Named {
        guard !hops.isEmpty else { return .absent }
        var farthest: ClientIP?
        for hop in hops.reversed() {
            guard let hop, let address = ForwardingHeaders.address(ofNode: hop) else { return .unclear }
            guard isTrusted(address) else { return .client(address) }
            farthest = address
        }
        // Every hop is a trusted proxy (a request from inside): the farthest one sent it.
        return farthest.map(Named.client) ?? .absent
    }

    private func isTrusted(_ address: ClientIP) -> Bool {
        trustedProxies.allows(address.description)
    }
}
