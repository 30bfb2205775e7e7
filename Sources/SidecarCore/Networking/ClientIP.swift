import Foundation

/// A client's IP address as the Gateway's per-client rate limits count it.
///
/// An IPv4 address that a dual-stack socket reports as `::ffff:a.b.c.d` is kept as the IPv4 address
/// it is, so that one client has one bucket whichever socket family it came in on.
public struct ClientIP: Sendable, Hashable, CustomStringConvertible {
    /// 4 bytes (IPv4) or 16 (IPv6).
    public let bytes: [UInt8]

    /// Parses a bare IPv4 or IPv6 address (no port, no brackets); nil for anything else.
    public init?(_ text: some StringProtocol) {
        guard let bytes = NetworkAllowList.addressBytes(String(text)) else { return nil }
        let isMappedIPv4 = bytes.count == 16 && bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xFF && bytes[11] == 0xFF
        self.bytes = isMappedIPv4 ? Array(bytes[12...]) : bytes
    }

    /// The canonical text: dotted IPv4, or RFC 5952's compressed lower-case IPv6.
    public var description: String { Self.text(of: bytes) }

    /// The name of the rate-limit bucket this address draws on: an IPv4 address alone, an IPv6
    /// address by its /64. One IPv6 subscriber usually holds a whole /64 and may pick any address in
    /// it (privacy addresses change by themselves), so a bucket per /128 would give every guess a
    /// fresh bucket; a /64 is the smallest block that belongs to one subscriber.
    public var rateLimitBucket: String {
        guard bytes.count == 16 else { return description }
        return Self.text(of: Array(bytes[0..<8]) + Array(repeating: 0, count: 8)) + "/64"
    }

    private static func text(of bytes: [UInt8]) -> String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        let written = bytes.withUnsafeBytes { raw in
            inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count))
        }
        // inet_ntop fails only for a buffer too small or an unknown family; neither happens here.
        guard written != nil else { return bytes.map { String($0) }.joined(separator: ".") }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
