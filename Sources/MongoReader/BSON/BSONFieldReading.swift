import CMongoc

/// Typed reads of one field. Tinode's Go driver picks int32 or int64 by value (and clients' numbers
/// arrive as doubles), so integers are read from any numeric BSON type, as the schema notes advise.
extension BSONDocument {
    /// True when the key is present, whatever its type (null included).
    public func has(_ key: String) -> Bool { find(key) != nil }

    /// A UTF-8 string field; nil when absent or of another type.
    public func string(_ key: String) -> String? {
        find(key).flatMap(BSONIteration.string)
    }

    /// An integer field stored as int32, int64 or double; nil when absent or not a number.
    public func integer(_ key: String) -> Int64? {
        find(key).flatMap(BSONIteration.integer)
    }

    /// A datetime field as milliseconds since the epoch; nil when absent or of another type.
    public func dateTime(_ key: String) -> Int64? {
        guard let iterator = find(key), iterator.type == BSON_TYPE_DATE_TIME else { return nil }
        return bson_iter_date_time(iterator.pointer)
    }

    /// The field's value as the JSON Tinode would send for it (see `TinodeJSON`); nil when absent.
    public func json(_ key: String) -> [UInt8]? {
        guard let iterator = find(key) else { return nil }
        var out: [UInt8] = []
        TinodeJSON.writeValue(iterator, to: &out)
        return out
    }

    /// Each element of a sub-document as JSON (Tinode's `head` map); empty when absent or not a document.
    public func jsonMembers(_ key: String) -> [String: [UInt8]] {
        guard let iterator = find(key), iterator.type == BSON_TYPE_DOCUMENT, let child = iterator.children() else { return [:] }
        var members: [String: [UInt8]] = [:]
        while child.next() {
            var out: [UInt8] = []
            TinodeJSON.writeValue(child, to: &out)
            members[child.key] = out
        }
        return members
    }
}

/// Reads of the element an iterator stands on.
enum BSONIteration {
    static func string(_ iterator: BSONIterator) -> String? {
        guard iterator.type == BSON_TYPE_UTF8 else { return nil }
        var length: UInt32 = 0
        guard let text = bson_iter_utf8(iterator.pointer, &length) else { return nil }
        // The length, not the terminator: BSON strings may hold NUL characters.
        return String(decoding: UnsafeRawBufferPointer(start: text, count: Int(length)), as: UTF8.self)
    }

    static func integer(_ iterator: BSONIterator) -> Int64? {
        switch iterator.type {
        case BSON_TYPE_INT32, BSON_TYPE_INT64: return bson_iter_as_int64(iterator.pointer)
        case BSON_TYPE_DOUBLE:
            let value = bson_iter_double(iterator.pointer)
            guard value.isFinite, value.rounded() == value, abs(value) < 9.2e18 else { return nil }
            return Int64(value)
        default: return nil
        }
    }
}
