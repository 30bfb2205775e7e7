import CMongoc
import Foundation

/// BSON to the JSON Tinode sends for the same stored value. Tinode decodes `content`, `head` and
/// `public` into Go values and writes them with `encoding/json`; the protocol path hands those bytes
/// on, so the MongoDB path must produce the same text (tinode-mongo-schema.md §7):
/// * numbers: int32/int64 as integers, doubles in Go's shortest form (`6`, `0.1`, `1e-7`);
/// * object keys sorted bytewise (Go maps); an empty embedded document as `[]` (a Tinode quirk);
/// * strings escaped as Go escapes them (`<`, `>`, `&`, U+2028, U+2029 as `\uXXXX`);
/// * binary as standard base64 with padding, datetimes as RFC 3339 UTC, ObjectIds as hex strings.
/// libbson's `bson_as_json` would print `6.0` and `{"$binary": ...}` instead, hence this walker.
public enum TinodeJSON {
    /// The JSON of a whole document as an embedded value (so an empty one is `[]`).
    public static func encode(_ document: BSONDocument) -> [UInt8] {
        guard let iterator = BSONIterator(document) else { return Array("null".utf8) }
        var out: [UInt8] = []
        writeMembers(iterator, to: &out)
        return out
    }

    /// Writes the value the iterator stands on.
    static func writeValue(_ iterator: BSONIterator, to out: inout [UInt8]) {
        let it = iterator.pointer
        switch iterator.type {
        case BSON_TYPE_DOUBLE:
            out.append(contentsOf: (GoNumberText.format(bson_iter_double(it)) ?? "null").utf8)
        case BSON_TYPE_UTF8, BSON_TYPE_SYMBOL, BSON_TYPE_CODE:
            // Go's driver decodes symbols and JavaScript code into string types.
            var length: UInt32 = 0
            let type = iterator.type
            let pointer: UnsafePointer<CChar>? =
                type == BSON_TYPE_UTF8
                ? bson_iter_utf8(it, &length)
                : (type == BSON_TYPE_SYMBOL ? bson_iter_symbol(it, &length) : bson_iter_code(it, &length))
            let text = pointer.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: Int(length)), as: UTF8.self) } ?? ""
            writeString(text, to: &out)
        case BSON_TYPE_DOCUMENT:
            if let child = iterator.children() { writeMembers(child, to: &out) } else { out.append(contentsOf: "null".utf8) }
        case BSON_TYPE_ARRAY:
            out.append(UInt8(ascii: "["))
            if let child = iterator.children() {
                var first = true
                while child.next() {
                    if !first { out.append(UInt8(ascii: ",")) }
                    first = false
                    writeValue(child, to: &out)
                }
            }
            out.append(UInt8(ascii: "]"))
        case BSON_TYPE_BINARY:
            var subtype = BSON_SUBTYPE_BINARY
            var length: UInt32 = 0
            var bytes: UnsafePointer<UInt8>?
            bson_iter_binary(it, &subtype, &length, &bytes)
            let data = bytes.map { Data(bytes: $0, count: Int(length)) } ?? Data()
            writeString(data.base64EncodedString(), to: &out)
        case BSON_TYPE_OID:
            var buffer = [CChar](repeating: 0, count: 25)
            bson_oid_to_string(bson_iter_oid(it), &buffer)
            writeString(text(of: buffer), to: &out)
        case BSON_TYPE_BOOL:
            out.append(contentsOf: (bson_iter_bool(it) ? "true" : "false").utf8)
        case BSON_TYPE_DATE_TIME:
            writeString(GoTimeText.format(millisecondsSinceEpoch: bson_iter_date_time(it)), to: &out)
        case BSON_TYPE_INT32:
            out.append(contentsOf: String(bson_iter_int32(it)).utf8)
        case BSON_TYPE_INT64:
            out.append(contentsOf: String(bson_iter_int64(it)).utf8)
        case BSON_TYPE_TIMESTAMP:
            // Go's `primitive.Timestamp` struct.
            var time: UInt32 = 0
            var increment: UInt32 = 0
            bson_iter_timestamp(it, &time, &increment)
            out.append(contentsOf: "{\"T\":\(time),\"I\":\(increment)}".utf8)
        case BSON_TYPE_REGEX:
            // Go's `primitive.Regex` struct, fields in declaration order.
            var options: UnsafePointer<CChar>?
            let pattern = bson_iter_regex(it, &options).map { String(cString: $0) } ?? ""
            out.append(contentsOf: "{\"Pattern\":".utf8)
            writeString(pattern, to: &out)
            out.append(contentsOf: ",\"Options\":".utf8)
            writeString(options.map { String(cString: $0) } ?? "", to: &out)
            out.append(UInt8(ascii: "}"))
        case BSON_TYPE_DECIMAL128:
            var decimal = bson_decimal128_t()
            var buffer = [CChar](repeating: 0, count: 43)  // BSON_DECIMAL128_STRING
            if bson_iter_decimal128(it, &decimal) { bson_decimal128_to_string(&decimal, &buffer) }
            out.append(contentsOf: "{\"$numberDecimal\":".utf8)
            writeString(text(of: buffer), to: &out)
            out.append(UInt8(ascii: "}"))
        case BSON_TYPE_MINKEY, BSON_TYPE_MAXKEY:
            out.append(contentsOf: "{}".utf8)
        default:
            // null, undefined, and types no JSON client can make (DBPointer, code with scope).
            out.append(contentsOf: "null".utf8)
        }
    }

    /// A document's members with keys sorted bytewise; a repeated key keeps its last value, as a Go
    /// map would.
    private static func writeMembers(_ iterator: BSONIterator, to out: inout [UInt8]) {
        var members: [[UInt8]: [UInt8]] = [:]
        while iterator.next() {
            let key = Array(iterator.key.utf8)
            var value: [UInt8] = []
            writeValue(iterator, to: &value)
            members[key] = value
        }
        if members.isEmpty {
            out.append(contentsOf: "[]".utf8)
            return
        }
        out.append(UInt8(ascii: "{"))
        for (index, key) in members.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }).enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            writeString(String(decoding: key, as: UTF8.self), to: &out)
            out.append(UInt8(ascii: ":"))
            out.append(contentsOf: members[key]!)
        }
        out.append(UInt8(ascii: "}"))
    }

    /// A NUL-terminated C character buffer as text.
    private static func text(of buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// A JSON string with Go's escaping (HTML-safe, as `json.Marshal` does by default).
    static func writeString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x22: out.append(contentsOf: "\\\"".utf8)
            case 0x5C: out.append(contentsOf: "\\\\".utf8)
            case 0x0A: out.append(contentsOf: "\\n".utf8)
            case 0x0D: out.append(contentsOf: "\\r".utf8)
            case 0x09: out.append(contentsOf: "\\t".utf8)
            case 0x08: out.append(contentsOf: "\\b".utf8)
            case 0x0C: out.append(contentsOf: "\\f".utf8)
            case 0x00..<0x20, 0x3C, 0x3E, 0x26, 0x2028, 0x2029:
                let value = scalar.value
                out.append(contentsOf: "\\u".utf8)
                for shift in [12, 8, 4, 0] { out.append(hexDigits[Int((value >> UInt32(shift)) & 0xF)]) }
            default:
                out.append(contentsOf: String(scalar).utf8)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
