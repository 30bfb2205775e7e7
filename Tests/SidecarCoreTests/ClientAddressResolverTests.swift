import Testing

@testable import SidecarCore

/// Who the Gateway counts a request against (`TRUSTED_PROXIES`), without sockets: the peer unless it
/// is a trusted proxy, then the first untrusted address from the right of the forwarding headers;
/// anything unclear counts against the peer.
@Suite("Client addresses behind proxies")
struct ClientAddressResolverTests {
    static let proxies = ClientAddressResolver(trustedProxies: NetworkAllowList(parsing: "10.0.0.0/8, fd00::/8")!)
    static let proxy = "10.0.0.2"

    /// The client `proxies` finds for a request from `peer`, as text ("nil" without one).
    static func client(
        peer: String? = proxy, xff: [String] = [], forwarded: [String] = [], resolver: ClientAddressResolver = proxies
    ) -> String {
        resolver.client(peer: peer, xForwardedFor: xff, forwarded: forwarded)?.description ?? "nil"
    }

    // MARK: - Whose headers are read

    @Test("a peer that is not a trusted proxy is the client, whatever it claims")
    func untrustedPeer() {
        #expect(Self.client(peer: "198.51.100.9", xff: ["203.0.113.7"]) == "198.51.100.9")
        #expect(Self.client(peer: "198.51.100.9", forwarded: ["for=203.0.113.7"]) == "198.51.100.9")
        // A proxy's address claimed by an outsider does not make the outsider a proxy.
        #expect(Self.client(peer: "198.51.100.9", xff: ["203.0.113.7, 10.0.0.3"]) == "198.51.100.9")
    }

    @Test("with no trusted proxies (the default) headers are never read")
    func nothingTrusted() {
        let resolver = ClientAddressResolver()
        #expect(Self.client(peer: "127.0.0.1", xff: ["203.0.113.7"], resolver: resolver) == "127.0.0.1")
        #expect(Self.client(peer: "127.0.0.1", forwarded: ["for=203.0.113.7"], resolver: resolver) == "127.0.0.1")
    }

    @Test("a trusted proxy without forwarding headers is the client itself")
    func trustedPeerWithoutHeaders() {
        #expect(Self.client() == Self.proxy)
        #expect(Self.client(xff: [""], forwarded: []) == Self.proxy, "an empty list names no one")
    }

    @Test("no peer address (a Unix socket): no client")
    func noPeer() {
        #expect(Self.client(peer: nil, xff: ["203.0.113.7"]) == "nil")
        #expect(Self.client(peer: "not an address") == "nil")
    }

    @Test("a dual-stack socket's ::ffff:a.b.c.d peer is matched as IPv4 against the trusted blocks")
    func mappedPeer() {
        #expect(Self.client(peer: "::ffff:10.0.0.2", xff: ["203.0.113.7"]) == "203.0.113.7")
        #expect(Self.client(peer: "::ffff:198.51.100.9", xff: ["203.0.113.7"]) == "198.51.100.9")
    }

    // MARK: - X-Forwarded-For chains

    @Test("X-Forwarded-For is read from the right, trusted proxies passed over; the left is never read")
    func chains() {
        #expect(Self.client(xff: ["203.0.113.7"]) == "203.0.113.7")
        #expect(Self.client(xff: ["203.0.113.7, 10.1.2.3, 10.0.0.9"]) == "203.0.113.7")
        // What the client wrote itself stays at the left end: the proxy appended the real peer.
        #expect(Self.client(xff: ["192.0.2.1, 203.0.113.7"]) == "203.0.113.7")
        #expect(Self.client(xff: ["garbage, 203.0.113.7"]) == "203.0.113.7")
        // Several header lines are one list, in order.
        #expect(Self.client(xff: ["192.0.2.1", "203.0.113.7, 10.0.0.9"]) == "203.0.113.7")
        // Only proxies (a request from inside): the farthest one.
        #expect(Self.client(xff: ["10.9.9.9, 10.0.0.9"]) == "10.9.9.9")
    }

    @Test("X-Forwarded-For entries with ports, brackets and bare IPv6")
    func xffNodeForms() {
        #expect(Self.client(xff: ["203.0.113.7:4711"]) == "203.0.113.7")
        #expect(Self.client(xff: ["[2001:db8::1]:4711"]) == "2001:db8::1")
        #expect(Self.client(xff: ["[2001:DB8::1]"]) == "2001:db8::1")
        #expect(Self.client(xff: ["2001:db8::1"]) == "2001:db8::1")
        #expect(Self.client(xff: [" 203.0.113.7 ,  "]) == "203.0.113.7", "white space and empty entries are list syntax")
    }

    @Test(
        "an unusable entry where the client should be falls back to the peer",
        arguments: [
            "203.0.113.7, garbage", "unknown", "203.0.113.7:99999", "203.0.113.7:", "[2001:db8::1", "[203.0.113.7]",
            "2001:db8::1]:80", "203.0.113.7:80:80", "203.0.113.256", "example.com", "_hidden",
        ])
    func xffGarbage(_ header: String) {
        #expect(Self.client(xff: [header]) == Self.proxy)
    }

    // MARK: - Forwarded (RFC 7239)

    @Test("Forwarded: for= of the elements, from the right, with other parameters and any case")
    func forwardedChains() {
        #expect(Self.client(forwarded: ["for=192.0.2.60;proto=http;by=203.0.113.43"]) == "192.0.2.60")
        #expect(Self.client(forwarded: ["proto=https;FOR=192.0.2.60"]) == "192.0.2.60")
        #expect(Self.client(forwarded: ["for=192.0.2.43, for=198.51.100.17"]) == "198.51.100.17")
        #expect(Self.client(forwarded: ["for=198.51.100.17 ,for=10.0.0.5;by=10.0.0.2"]) == "198.51.100.17")
        #expect(Self.client(forwarded: ["for=192.0.2.43", "for=198.51.100.17"]) == "198.51.100.17")
        #expect(Self.client(forwarded: ["for=198.51.100.17,,"]) == "198.51.100.17", "empty list elements are list syntax")
    }

    @Test("Forwarded: quoted IPv6 with and without port, quoted IPv4 with port, escapes, obfuscated ports")
    func forwardedNodeForms() {
        #expect(Self.client(forwarded: [#"for="[2001:db8:cafe::17]:4711""#]) == "2001:db8:cafe::17")
        #expect(Self.client(forwarded: [#"For="[2001:db8:cafe::17]""#]) == "2001:db8:cafe::17")
        #expect(Self.client(forwarded: [#"for="192.0.2.60:8080";proto=https"#]) == "192.0.2.60")
        #expect(Self.client(forwarded: [#"for="\[2001:db8::5\]""#]) == "2001:db8::5", "a quoted pair is the character")
        #expect(Self.client(forwarded: [#"for="192.0.2.60:_abc-1""#]) == "192.0.2.60")
        // Written without the quotes RFC 7239 asks for, by some proxies: still unambiguous.
        #expect(Self.client(forwarded: ["for=[2001:db8::7]:80"]) == "2001:db8::7")
    }

    @Test("Forwarded: a comma inside a quoted string does not start an element")
    func quotedComma() {
        // A naive split at commas would take 192.0.2.1 as the nearest hop.
        #expect(Self.client(forwarded: [#"for="198.51.100.17, for=192.0.2.1""#]) == Self.proxy)
        #expect(Self.client(forwarded: [#"by="x,y";for=198.51.100.17"#]) == "198.51.100.17")
    }

    @Test(
        "Forwarded that is not RFC 7239, or names no address, falls back to the peer",
        arguments: [
            #"for="198.51.100.17"#,  // unterminated quote
            "for=198.51.100.17;for=192.0.2.1",  // a parameter twice in one element
            "proto=https",  // a hop that names no one
            "for=198.51.100.17, proto=https",
            "for=",
            "for 198.51.100.17",
            "=198.51.100.17",
            "for=198.51.100.17 x",
            "for=unknown",
            "for=_hidden",
            "for=2001:db8::1:_x:y",
            "for=\"198.51.100.17\u{01}\"",
        ])
    func forwardedGarbage(_ header: String) {
        #expect(Self.client(forwarded: [header]) == Self.proxy)
    }

    @Test("a malformed Forwarded line spoils the whole header, even a valid line after it")
    func malformedLineSpoilsHeader() {
        #expect(Self.client(forwarded: [#"for="192.0.2.1"#, "for=198.51.100.17"]) == Self.proxy)
    }

    // MARK: - Both headers

    @Test("both headers must name the same client; otherwise one came from the client and the peer counts")
    func bothHeaders() {
        #expect(Self.client(xff: ["203.0.113.7"], forwarded: ["for=203.0.113.7"]) == "203.0.113.7")
        #expect(Self.client(xff: ["203.0.113.7"], forwarded: ["for=192.0.2.1"]) == Self.proxy)
        #expect(Self.client(xff: ["203.0.113.7"], forwarded: ["for=\"garbage"]) == Self.proxy)
        #expect(Self.client(xff: ["203.0.113.7, garbage"], forwarded: ["for=203.0.113.7"]) == Self.proxy)
        #expect(Self.client(xff: [""], forwarded: ["for=203.0.113.7"]) == "203.0.113.7")
    }

    // MARK: - Buckets

    @Test("IPv4 clients have a bucket each; IPv6 clients one per /64")
    func buckets() throws {
        let v4 = try #require(ClientIP("198.51.100.7"))
        #expect(v4.rateLimitBucket == "198.51.100.7")
        #expect(try #require(ClientIP("198.51.100.8")).rateLimitBucket != v4.rateLimitBucket)
        #expect(try #require(ClientIP("::ffff:198.51.100.7")).rateLimitBucket == "198.51.100.7")

        let first = try #require(ClientIP("2001:db8:1:2:aaaa:bbbb:cccc:1"))
        let sameNetwork = try #require(ClientIP("2001:DB8:1:2::9"))
        let nextNetwork = try #require(ClientIP("2001:db8:1:3:aaaa:bbbb:cccc:1"))
        #expect(first.rateLimitBucket == "2001:db8:1:2::/64")
        #expect(sameNetwork.rateLimitBucket == first.rateLimitBucket)
        #expect(nextNetwork.rateLimitBucket == "2001:db8:1:3::/64")
        #expect(first.description == "2001:db8:1:2:aaaa:bbbb:cccc:1", "the address itself is kept whole")
    }
}
