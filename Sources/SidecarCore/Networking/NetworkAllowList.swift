import Foundation

/// A set of CIDR blocks (`10.0.0.0/8`, `::1/128`) a caller's address must fall in.
public struct NetworkAllowList: Sendable, Equatable, CustomStringConvertible {
    /// One block: the network's bytes (4 for IPv4, 16 for IPv6) and its prefix length.
    public struct Block: Sendable, Equatable {
        let network: [UInt8]
        let prefixLength: Int

        /// Parses `address/prefix`, or a bare address as a single host.
        public init?(_ text: String) {
            let parts = text.trimmingCharacters(in: .whitespaces).split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count <= 2, let bytes = NetworkAllowList.addressBytes(String(parts[0])) else { return nil }
            let maximum = bytes.count * 8
            let prefix = parts.count == 2 ? Int(parts[1]) : maximum
            guard let prefix, (0...maximum).contains(prefix) else { return nil }
            network = bytes
            prefixLength = prefix
        }

        func contains(_ address: [UInt8]) -> Bool {
            guard address.count == network.count else { return false }
            var remaining = prefixLength
            for (a, b) in zip(address, network) where remaining > 0 {
                let bits = min(8, remaining)
                let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
                if a & mask != b & mask { return false }
                remaining -= bits
            }
            return true
        }
    }

    public let blocks: [Block]
    private let text: String

    /// Parses a comma-separated list; nil when any entry is not a CIDR block.
    public init?(parsing list: String) {
        var blocks: [Block] = []
        for entry in list.split(separator: ",") where !entry.trimmingCharacters(in: .whitespaces).isEmpty {
            guard let block = Block(String(entry)) else { return nil }
            blocks.append(block)
        }
        self.blocks = blocks
        self.text = list
    }

    /// Whether the textual IP address (IPv4, IPv6, or IPv4-mapped IPv6) is allowed.
    public func allows(_ address: String) -> Bool {
        guard let bytes = Self.addressBytes(address) else { return false }
        // `::ffff:a.b.c.d` is an IPv4 caller on a dual-stack socket.
        if bytes.count == 16, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF {
            let mapped = Array(bytes[12...])
            if blocks.contains(where: { $0.contains(mapped) }) { return true }
        }
        return blocks.contains { $0.contains(bytes) }
    }

    public var description: String { text }

    static func addressBytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }
}
