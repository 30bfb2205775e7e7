/// A strict, allocation-light JSON reader (RFC 8259) for the REST-auth request body.
///
/// Tinode sends one small object per call and we need five of its fields, so instead of building a
/// whole Foundation object graph (`JSONSerialization` was about a tenth of a request's cost) the
/// decoder walks the bytes once: it reads the members it wants and validates and skips the rest.
/// Anything that is not well-formed JSON, including invalid UTF-8, a lone surrogate escape, a
/// control character inside a string or trailing bytes, is refused. Nesting is limited so that a
/// body of a hundred thousand `[` cannot exhaust the stack.
struct JSONReader {
    /// The body is not well-formed JSON, or nests deeper than `maximumDepth`.
    struct Malformed: Error {}

    /// What the next value is, from its first byte.
    enum ValueKind {
        case object, array, string, number, boolean, null
    }

    static let maximumDepth = 64

    private let bytes: UnsafeBufferPointer<UInt8>
    private var position = 0
    private var depth = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// The kind of the next value, after any whitespace; the value itself is not consumed.
    mutating func peekKind() throws(Malformed) -> ValueKind {
        skipWhitespace()
        guard position < bytes.count else { throw Malformed() }
        switch bytes[position] {
        case UInt8(ascii: "{"): return .object
        case UInt8(ascii: "["): return .array
        case UInt8(ascii: "\""): return .string
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .boolean
        case UInt8(ascii: "n"): return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number
        default: throw Malformed()
        }
    }

    /// Reads an object, handing each member's key to `member`, which must consume the value
    /// (read it or `skipValue()`). Errors thrown by `member` pass through unchanged.
    mutating func readObject(_ member: (inout JSONReader, String) throws -> Void) throws {
        try enter(UInt8(ascii: "{"))
        skipWhitespace()
        if try consumeIf(UInt8(ascii: "}")) {
            depth -= 1
            return
        }
        while true {
            skipWhitespace()
            guard try peekKind() == .string else { throw Malformed() }
            let key = try readString()
            skipWhitespace()
            guard try consumeIf(UInt8(ascii: ":")) else { throw Malformed() }
            try member(&self, key)
            skipWhitespace()
            if try consumeIf(UInt8(ascii: ",")) { continue }
            guard try consumeIf(UInt8(ascii: "}")) else { throw Malformed() }
            depth -= 1
            return
        }
    }

    /// Reads an array, calling `element` once per element; it must consume the element.
    mutating func readArray(_ element: (inout JSONReader) throws -> Void) throws {
        try enter(UInt8(ascii: "["))
        skipWhitespace()
        if try consumeIf(UInt8(ascii: "]")) {
            depth -= 1
            return
        }
        while true {
            try element(&self)
            skipWhitespace()
            if try consumeIf(UInt8(ascii: ",")) { continue }
            guard try consumeIf(UInt8(ascii: "]")) else { throw Malformed() }
            depth -= 1
            return
        }
    }

    /// Reads a string value, unescaped and checked to be valid UTF-8.
    mutating func readString() throws(Malformed) -> String {
        skipWhitespace()
        guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw Malformed() }
        position += 1
        let start = position
        // Fast path: most strings have no escapes, so they are validated and copied in one go.
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                let string = String(validating: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
                guard let string else { throw Malformed() }
                position += 1
                return string
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw Malformed() }
            position += 1
        }
        guard position < bytes.count else { throw Malformed() }
        var unescaped = Array(bytes[start..<position])
        while true {
            guard position < bytes.count else { throw Malformed() }
            let byte = bytes[position]
            position += 1
            switch byte {
            case UInt8(ascii: "\""):
                guard let string = String(validating: unescaped, as: UTF8.self) else { throw Malformed() }
                return string
            case UInt8(ascii: "\\"):
                try readEscape(into: &unescaped)
            case 0..<0x20:
                throw Malformed()
            default:
                unescaped.append(byte)
            }
        }
    }

    /// `true` and the literal consumed if the next value is `null`.
    mutating func readNullIfPresent() throws(Malformed) -> Bool {
        guard try peekKind() == .null else { return false }
        try consumeLiteral("null")
        return true
    }

    /// Reads and checks any value without keeping it.
    mutating func skipValue() throws {
        switch try peekKind() {
        case .object: try readObject { reader, _ in try reader.skipValue() }
        case .array: try readArray { reader in try reader.skipValue() }
        case .string: _ = try readString()
        case .number: try skipNumber()
        case .boolean: try consumeLiteral(bytes[position] == UInt8(ascii: "t") ? "true" : "false")
        case .null: try consumeLiteral("null")
        }
    }

    /// Checks that nothing but whitespace follows the value just read.
    mutating func expectEnd() throws(Malformed) {
        skipWhitespace()
        guard position == bytes.count else { throw Malformed() }
    }

    // MARK: Pieces

    private mutating func enter(_ opening: UInt8) throws(Malformed) {
        skipWhitespace()
        guard position < bytes.count, bytes[position] == opening, depth < Self.maximumDepth else { throw Malformed() }
        position += 1
        depth += 1
    }

    private mutating func consumeIf(_ byte: UInt8) throws(Malformed) -> Bool {
        guard position < bytes.count else { throw Malformed() }
        guard bytes[position] == byte else { return false }
        position += 1
        return true
    }

    private mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x0A, 0x0D, 0x09: position += 1
            default: return
            }
        }
    }

    private mutating func consumeLiteral(_ literal: StaticString) throws(Malformed) {
        let count = literal.utf8CodeUnitCount
        guard bytes.count - position >= count else { throw Malformed() }
        let expected = UnsafeBufferPointer(start: literal.utf8Start, count: count)
        for offset in 0..<count where bytes[position + offset] != expected[offset] { throw Malformed() }
        position += count
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    private mutating func skipNumber() throws(Malformed) {
        if bytes[position] == UInt8(ascii: "-") { position += 1 }
        guard position < bytes.count else { throw Malformed() }
        if bytes[position] == UInt8(ascii: "0") {
            position += 1
        } else {
            guard skipDigits() > 0 else { throw Malformed() }
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            position += 1
            guard skipDigits() > 0 else { throw Malformed() }
        }
        if position < bytes.count, bytes[position] | 0x20 == UInt8(ascii: "e") {
            position += 1
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
                position += 1
            }
            guard skipDigits() > 0 else { throw Malformed() }
        }
    }

    private mutating func skipDigits() -> Int {
        let start = position
        while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) { position += 1 }
        return position - start
    }

    /// One escape after its backslash; `\u` pairs of surrogates become one scalar, a lone
    /// surrogate is refused (Go's encoder, Tinode's, never writes one).
    private mutating func readEscape(into output: inout [UInt8]) throws(Malformed) {
        guard position < bytes.count else { throw Malformed() }
        let letter = bytes[position]
        position += 1
        switch letter {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): output.append(letter)
        case UInt8(ascii: "b"): output.append(0x08)
        case UInt8(ascii: "f"): output.append(0x0C)
        case UInt8(ascii: "n"): output.append(0x0A)
        case UInt8(ascii: "r"): output.append(0x0D)
        case UInt8(ascii: "t"): output.append(0x09)
        case UInt8(ascii: "u"):
            var value = try readHex4()
            if (0xD800..<0xDC00).contains(value) {
                guard bytes.count - position >= 2, bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u")
                else { throw Malformed() }
                position += 2
                let low = try readHex4()
                guard (0xDC00..<0xE000).contains(low) else { throw Malformed() }
                value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
            }
            guard let scalar = Unicode.Scalar(value) else { throw Malformed() }
            output.append(contentsOf: String(Character(scalar)).utf8)
        default:
            throw Malformed()
        }
    }

    private mutating func readHex4() throws(Malformed) -> UInt32 {
        guard bytes.count - position >= 4 else { throw Malformed() }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[position]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw Malformed()
            }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }
}
