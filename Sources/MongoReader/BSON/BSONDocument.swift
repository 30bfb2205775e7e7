import CMongoc

/// A BSON document owned by libbson (`bson_t`). Built from `BSONValue` elements, or copied from what
/// a cursor returned; it frees itself. Not `Sendable`: each one stays on the thread that made it.
public final class BSONDocument {
    /// The `bson_t *` (opaque to Swift, see `shim.h`).
    let pointer: OpaquePointer

    /// Encodes `elements` with libbson's append functions.
    public init(_ elements: [BSONElement]) {
        pointer = bson_new()
        for element in elements { Self.append(element.value, key: element.key, to: pointer) }
    }

    /// Encodes a `.document` value (any other value gives an empty document).
    public convenience init(_ value: BSONValue) {
        self.init(value.elements ?? [])
    }

    /// A copy of a document libmongoc owns (a cursor's current document is only valid until the
    /// next call).
    init(copying source: OpaquePointer) {
        pointer = bson_copy(source)
    }

    /// Parses raw BSON bytes (nil when they are not a valid document).
    public init?(bytes: [UInt8]) {
        guard let parsed = bytes.withUnsafeBufferPointer({ bson_new_from_data($0.baseAddress, $0.count) }) else { return nil }
        pointer = parsed
    }

    deinit { bson_destroy(pointer) }

    /// The `bson_t *` for a libmongoc or libbson call that does not keep it.
    public func withUnsafePointer<T>(_ body: (OpaquePointer) throws -> T) rethrows -> T {
        try body(pointer)
    }

    /// The encoded bytes.
    public var bytes: [UInt8] {
        let data = bson_get_data(pointer)!
        return Array(UnsafeBufferPointer(start: data, count: Int(sidecar_bson_length(pointer))))
    }

    /// libbson's canonical Extended JSON (types spelled out: `{"$numberLong": "3"}`): what the tests
    /// compare query documents with.
    public var canonicalExtendedJSON: String {
        var length = 0
        guard let text = bson_as_canonical_extended_json(pointer, &length) else { return "" }
        defer { bson_free(text) }
        return String(cString: text)
    }

    /// The top-level keys, in order.
    public var keys: [String] {
        guard let iterator = BSONIterator(self) else { return [] }
        var keys: [String] = []
        while iterator.next() { keys.append(iterator.key) }
        return keys
    }

    /// An iterator positioned on `key` (dotted paths such as `public.fn` reach into sub-documents).
    public func find(_ key: String) -> BSONIterator? {
        guard let iterator = BSONIterator(self) else { return nil }
        if key.contains(".") {
            let found = BSONIterator()
            return bson_iter_find_descendant(iterator.pointer, key, found.pointer) ? found : nil
        }
        return bson_iter_find(iterator.pointer, key) ? iterator : nil
    }

    // Sub-documents and arrays are built as documents of their own and appended whole, because
    // libbson's begin/end pair needs a `bson_t` on the caller's stack, which Swift cannot declare.
    private static func append(_ value: BSONValue, key: String, to document: OpaquePointer) {
        let keyLength = Int32(key.utf8.count)
        switch value {
        case .string(let text):
            bson_append_utf8(document, key, keyLength, text, Int32(text.utf8.count))
        case .int32(let number):
            bson_append_int32(document, key, keyLength, number)
        case .int64(let number):
            bson_append_int64(document, key, keyLength, number)
        case .double(let number):
            bson_append_double(document, key, keyLength, number)
        case .bool(let flag):
            bson_append_bool(document, key, keyLength, flag)
        case .null:
            bson_append_null(document, key, keyLength)
        case .dateTime(let milliseconds):
            bson_append_date_time(document, key, keyLength, milliseconds)
        case .binary(let bytes):
            _ = bytes.withUnsafeBufferPointer { buffer in
                bson_append_binary(document, key, keyLength, BSON_SUBTYPE_BINARY, buffer.baseAddress, UInt32(buffer.count))
            }
        case .array(let items):
            let child = BSONDocument(items.enumerated().map { BSONElement(String($0.offset), $0.element) })
            bson_append_array(document, key, keyLength, child.pointer)
        case .document(let elements):
            let child = BSONDocument(elements)
            bson_append_document(document, key, keyLength, child.pointer)
        }
    }
}

/// A libbson iterator (`bson_iter_t`, heap-allocated with its alignment by `shim.h`), standing on
/// one element at a time.
public final class BSONIterator {
    let pointer: OpaquePointer

    init() {
        pointer = sidecar_bson_iter_new()
    }

    /// An iterator before the first element of `document`; nil when the document is corrupt.
    convenience init?(_ document: BSONDocument) {
        self.init()
        guard bson_iter_init(pointer, document.pointer) else { return nil }
    }

    deinit { sidecar_bson_iter_free(pointer) }

    /// Moves to the next element; false at the end (or on corrupt data).
    func next() -> Bool { bson_iter_next(pointer) }

    var key: String { String(cString: bson_iter_key(pointer)) }
    var type: bson_type_t { bson_iter_type(pointer) }

    /// An iterator over the current element's members when it is a document or an array.
    func children() -> BSONIterator? {
        let child = BSONIterator()
        return bson_iter_recurse(pointer, child.pointer) ? child : nil
    }
}
