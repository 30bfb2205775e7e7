import Foundation

/// How proxies write down whom they forwarded a request for: `X-Forwarded-For` (a comma-separated
/// list of addresses, a de facto standard) and `Forwarded` (RFC 7239: elements of `name=value` pairs
/// whose `for` names the address the proxy heard from). Both list the farthest hop first: each
/// proxy appends the peer it saw, so only the right end of a list was written by proxies we know.
enum ForwardingHeaders {
    /// The entries of every `X-Forwarded-For` line, in order, empty ones dropped (list syntax allows
    /// them). Entries are not checked here: only those the resolver reaches from the right must be
    /// addresses, so that text a client put at the left end cannot spoil the entries proxies added.
    static func xForwardedFor(_ lines: [String]) -> [String] {
        lines.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// The `for` value of each element of every `Forwarded` line, in order; an element that names no
    /// `for` gives nil (a hop that did not say whom it heard). Nil as a whole when a line is not RFC
    /// 7239 syntax: a quoted string decides where an element ends, so after a syntax error no
    /// element can be trusted, not even the last.
    static func forwarded(_ lines: [String]) -> [String?]? {
        var hops: [String?] = []
        for line in lines {
            guard let lineHops = forwardedElements(Array(line.utf8)) else { return nil }
            hops += lineHops
        }
        return hops
    }

    /// The address of a node as proxies write it: `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]`,
    /// `[2001:db8::1]:4711`, or a bare `2001:db8::1` (some proxies leave the brackets out); a port may
    /// be RFC 7239's obfuscated `_name`. Nil for anything else, `unknown` and obfuscated `_name`
    /// nodes included: they name no address to count.
    static func address(ofNode node: some StringProtocol) -> ClientIP? {
        let text = Substring(node)
        if text.first == "[" {
            guard let close = text.firstIndex(of: "]") else { return nil }
            let inside = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard inside.contains(":"), rest.isEmpty || (rest.first == ":" && isPort(rest.dropFirst())) else { return nil }
            return ClientIP(inside)
        }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        switch parts.count {
        case 1:
            return ClientIP(text)
        case 2:
            // One colon: an IPv4 address with its port (IPv6 has at least two).
            guard isPort(parts[1]) else { return nil }
            return ClientIP(parts[0])
        default:
            return ClientIP(text)
        }
    }

    // MARK: - RFC 7239 syntax

    private static func forwardedElements(_ text: [UInt8]) -> [String?]? {
        var hops: [String?] = []
        var index = 0
        func skipWhitespace() {
            while index < text.count, text[index] == UInt8(ascii: " ") || text[index] == UInt8(ascii: "\t") { index += 1 }
        }
        func readValue() -> String? {
            guard index < text.count else { return nil }
            guard text[index] == UInt8(ascii: "\"") else {
                let start = index
                while index < text.count, isUnquotedValueByte(text[index]) { index += 1 }
                return index > start ? String(decoding: text[start..<index], as: UTF8.self) : nil
            }
            index += 1
            var value: [UInt8] = []
            while index < text.count {
                let byte = text[index]
                index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return String(decoding: value, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard index < text.count else { return nil }
                    value.append(text[index])
                    index += 1
                case 0x7F,
                    0..<0x20 where byte != UInt8(ascii: "\t"):
                    return nil
                default:
                    value.append(byte)
                }
            }
            return nil  // unterminated
        }

        while true {
            skipWhitespace()
            guard index < text.count else { return hops }
            if text[index] == UInt8(ascii: ",") {
                index += 1  // an empty list element
                continue
            }
            var forValue: String?
            var names: Set<String> = []
            while true {
                skipWhitespace()
                guard index < text.count, text[index] != UInt8(ascii: ",") else { break }
                if text[index] == UInt8(ascii: ";") {
                    index += 1
                    continue
                }
                let nameStart = index
                while index < text.count, isTokenByte(text[index]) { index += 1 }
                guard index > nameStart, index < text.count, text[index] == UInt8(ascii: "=") else { return nil }
                let name = String(decoding: text[nameStart..<index], as: UTF8.self).lowercased()
                index += 1
                guard let value = readValue() else { return nil }
                // RFC 7239 4: a parameter occurs at most once per element; two `for`s leave the hop unknown.
                guard names.insert(name).inserted else { return nil }
                if name == "for" { forValue = value }
                skipWhitespace()
                guard index == text.count || text[index] == UInt8(ascii: ";") || text[index] == UInt8(ascii: ",") else { return nil }
            }
            hops.append(forValue)
        }
    }

    /// RFC 7230's `tchar`.
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }

    /// A token, plus `:`, `[` and `]`: RFC 7239 wants IPv6 nodes and ports quoted, but some proxies
    /// write them bare, and none of the three separates anything in this header, so reading them is
    /// unambiguous.
    private static func isUnquotedValueByte(_ byte: UInt8) -> Bool {
        isTokenByte(byte) || byte == UInt8(ascii: ":") || byte == UInt8(ascii: "[") || byte == UInt8(ascii: "]")
    }

    /// A port number, or RFC 7239's obfuscated port (`_` and letters, digits, `.`, `_`, `-`).
    private static func isPort(_ text: Substring) -> Bool {
        if text.first == "_" {
            return text.count > 1 && text.dropFirst().allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }
        }
        guard (1...5).contains(text.count), text.allSatisfy({ $0.isASCII && $0.isNumber }), let port = Int(text) else { return false }
        return port <= 65_535
    }
}
