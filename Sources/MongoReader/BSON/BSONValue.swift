/// A BSON value to be written: the query builder produces these, `BSONDocument` encodes them with
/// libbson. Only the types the reader's queries (and the tests' fixtures) need.
public indirect enum BSONValue: Sendable, Equatable {
    case string(String)
    case int32(Int32)
    case int64(Int64)
    case double(Double)
    case bool(Bool)
    case null
    /// Milliseconds since the Unix epoch, UTC (BSON's datetime).
    case dateTime(Int64)
    /// Binary of subtype 0 (generic), the subtype Go's `[]byte` is written as.
    case binary([UInt8])
    case array([BSONValue])
    case document([BSONElement])

    /// A document from literal pairs, in their order (BSON documents are ordered; `sort` relies on it).
    public static func document(_ pairs: KeyValuePairs<String, BSONValue>) -> BSONValue {
        .document(pairs.map { BSONElement($0.key, $0.value) })
    }
}

/// One key and value of a document.
public struct BSONElement: Sendable, Equatable {
    public var key: String
    public var value: BSONValue

    public init(_ key: String, _ value: BSONValue) {
        self.key = key
        self.value = value
    }
}

extension BSONValue {
    /// The elements when this is a document, else nil.
    public var elements: [BSONElement]? {
        if case .document(let elements) = self { return elements }
        return nil
    }

    /// The value of `key` when this is a document that has it.
    public subscript(key: String) -> BSONValue? {
        elements?.first { $0.key == key }?.value
    }
}
