/// The members of a REST-auth request body that we use, read in one pass with `JSONReader`.
///
/// Keys are matched the way Go's `encoding/json` matches them on Tinode's side: exactly, or else
/// ignoring ASCII case (Tinode writes the record's state as `State`). An exact key wins over a
/// case-folded one whatever their order; otherwise the later member wins. Values of the wrong type
/// are remembered as such, so the decoder can name the field; every other member is validated and
/// skipped.
struct RequestMembers {
    var endpoint = Member<ScalarValue>()
    var name = Member<ScalarValue>()
    var addr = Member<ScalarValue>()
    var secret = Member<ScalarValue>()
    var rec = Member<RecordValue>()

    /// A string field: a string, `null`, or something else.
    enum ScalarValue {
        case string(String), null, wrongType
    }

    enum RecordValue {
        case object(RecordMembers), null, wrongType
    }

    struct RecordMembers {
        var uid = Member<ScalarValue>()
        var state = Member<ScalarValue>()
        var tags = Member<TagsValue>()
    }

    enum TagsValue {
        case strings([String]), null, wrongType
    }

    /// One field's value, and whether it came from an exactly matching key.
    struct Member<Value> {
        private(set) var value: Value?
        private var exact = false

        mutating func offer(_ newValue: Value, exact isExact: Bool) {
            guard isExact || !exact else { return }
            value = newValue
            exact = isExact
        }
    }

    private init() {}

    /// Reads a whole body, which must be one JSON object and nothing after it.
    init(reading bytes: UnsafeBufferPointer<UInt8>) throws {
        var reader = JSONReader(bytes)
        guard try reader.peekKind() == .object else { throw JSONReader.Malformed() }
        var members = RequestMembers()
        try reader.readObject { reader, key in
            if let exact = Self.matches(key, "endpoint") {
                members.endpoint.offer(try Self.readScalar(&reader), exact: exact)
            } else if let exact = Self.matches(key, "name") {
                members.name.offer(try Self.readScalar(&reader), exact: exact)
            } else if let exact = Self.matches(key, "addr") {
                members.addr.offer(try Self.readScalar(&reader), exact: exact)
            } else if let exact = Self.matches(key, "secret") {
                members.secret.offer(try Self.readScalar(&reader), exact: exact)
            } else if let exact = Self.matches(key, "rec") {
                members.rec.offer(try Self.readRecord(&reader), exact: exact)
            } else {
                try reader.skipValue()
            }
        }
        try reader.expectEnd()
        self = members
    }

    private static func readScalar(_ reader: inout JSONReader) throws -> ScalarValue {
        try readMember(&reader, expecting: .string, null: .null, wrongType: .wrongType) { .string(try $0.readString()) }
    }

    private static func readRecord(_ reader: inout JSONReader) throws -> RecordValue {
        try readMember(&reader, expecting: .object, null: .null, wrongType: .wrongType) { reader in
            var record = RecordMembers()
            try reader.readObject { reader, key in
                if let exact = matches(key, "uid") {
                    record.uid.offer(try readScalar(&reader), exact: exact)
                } else if let exact = matches(key, "state") {
                    record.state.offer(try readScalar(&reader), exact: exact)
                } else if let exact = matches(key, "tags") {
                    record.tags.offer(try readTags(&reader), exact: exact)
                } else {
                    try reader.skipValue()
                }
            }
            return .object(record)
        }
    }

    private static func readTags(_ reader: inout JSONReader) throws -> TagsValue {
        try readMember(&reader, expecting: .array, null: .null, wrongType: .wrongType) { reader in
            var strings: [String] = []
            var allStrings = true
            try reader.readArray { reader in
                if try reader.peekKind() == .string {
                    strings.append(try reader.readString())
                } else {
                    allStrings = false
                    try reader.skipValue()
                }
            }
            return allStrings ? .strings(strings) : .wrongType
        }
    }

    /// A member that must be of `kind` or null: `read` reads the expected kind; null gives `null`;
    /// anything else is checked, skipped and reported as `wrongType`.
    private static func readMember<Value>(
        _ reader: inout JSONReader, expecting kind: JSONReader.ValueKind, null: Value, wrongType: Value,
        _ read: (inout JSONReader) throws -> Value
    ) throws -> Value {
        switch try reader.peekKind() {
        case kind: return try read(&reader)
        case .null:
            _ = try reader.readNullIfPresent()
            return null
        default:
            try reader.skipValue()
            return wrongType
        }
    }

    /// `true` for an exact match, `false` for a match ignoring ASCII case, nil for none.
    private static func matches(_ key: String, _ name: StaticString) -> Bool? {
        let expected = UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        var exact = true
        var index = 0
        for byte in key.utf8 {
            guard index < expected.count else { return nil }
            let wanted = expected[index]
            if byte != wanted {
                // The names are lowercase ASCII letters: fold only an uppercase letter.
                guard (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte), byte | 0x20 == wanted else { return nil }
                exact = false
            }
            index += 1
        }
        return index == expected.count ? exact : nil
    }
}

extension RequestMembers.Member<RequestMembers.ScalarValue> {
    /// The string, nil when absent or `null`, or the field named as having the wrong type.
    func string(_ field: String) throws(RESTAuthRequest.DecodingFailure) -> String? {
        switch value {
        case nil, .null: return nil
        case .string(let string): return string
        case .wrongType: throw .wrongType(field)
        }
    }
}
