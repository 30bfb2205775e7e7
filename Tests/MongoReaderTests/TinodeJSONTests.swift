import CMongoc
import Foundation
import MongoReader
import MongoTestSupport
import Testing

/// The BSON -> JSON walk: documents built with libbson, read back with libbson's iterator, and the
/// text compared with what Tinode (Go's encoding/json) sends for the same stored value.
@Suite("BSON to Tinode's JSON")
struct TinodeJSONTests {
    /// The JSON of `value` stored under `content`.
    func json(_ value: BSONValue) -> String {
        let document = BSONDocument([BSONElement("content", value)])
        return String(decoding: document.json("content") ?? [], as: UTF8.self)
    }

    @Test("integers: int32 and int64 as plain integers, whatever their size")
    func integers() {
        #expect(json(.int32(7)) == "7")
        #expect(json(.int32(-2_147_483_648)) == "-2147483648")
        #expect(json(.int64(1 << 40)) == "1099511627776")
        #expect(json(.int64(Int64.max)) == "9223372036854775807")
    }

    @Test(
        "doubles in Go's shortest form, never libbson's %.20g",
        arguments: [
            (6.0, "6"), (0.1, "0.1"), (-2.5, "-2.5"), (1e-7, "1e-7"), (1e21, "1e+21"), (1e20, "100000000000000000000"),
            (0.000001, "0.000001"), (2.5e-5, "0.000025"), (123456789.125, "123456789.125"), (-0.0, "-0"),
            (1.7976931348623157e308, "1.7976931348623157e+308"), (5e-324, "5e-324"), (12345678901234567890.0, "12345678901234567000"),
            (1.5e-10, "1.5e-10"), (9007199254740993.0, "9007199254740992"),
        ])
    func doubles(value: Double, expected: String) {
        #expect(json(.double(value)) == expected)
    }

    @Test("NaN and infinities, which JSON cannot hold, become null")
    func nonFinite() {
        #expect(json(.double(.nan)) == "null")
        #expect(json(.double(.infinity)) == "null")
    }

    @Test("strings escaped as Go escapes them (HTML-safe, U+2028/2029, control characters)")
    func strings() {
        #expect(json(.string("plain")) == "\"plain\"")
        #expect(json(.string("a<b>&c")) == "\"a\\u003cb\\u003e\\u0026c\"")
        #expect(json(.string("q\"b\\")) == "\"q\\\"b\\\\\"")
        #expect(json(.string("l1\nl2\r\t")) == "\"l1\\nl2\\r\\t\"")
        #expect(json(.string("\u{1}\u{1f}")) == "\"\\u0001\\u001f\"")
        #expect(json(.string("\u{2028}\u{2029}")) == "\"\\u2028\\u2029\"")
        #expect(json(.string("grüße 🙂 日本")) == "\"grüße 🙂 日本\"")
        #expect(json(.string("nul\u{0}inside")) == "\"nul\\u0000inside\"")
    }

    @Test("bool and null; a missing key is no value at all")
    func scalars() {
        #expect(json(.bool(true)) == "true")
        #expect(json(.bool(false)) == "false")
        #expect(json(.null) == "null")
        #expect(BSONDocument([BSONElement("other", .int32(1))]).json("content") == nil)
    }

    @Test("documents: keys sorted bytewise, nested; an empty document is [] (Tinode's quirk)")
    func documents() {
        let drafty: BSONValue = .document([
            "txt": .string("Hello world"),
            "fmt": .array([.document(["tp": .string("ST"), "at": .double(0), "len": .double(5)])]),
            "ent": .array([]),
        ])
        #expect(json(drafty) == "{\"ent\":[],\"fmt\":[{\"at\":0,\"len\":5,\"tp\":\"ST\"}],\"txt\":\"Hello world\"}")
        #expect(
            json(.document(["b": .int32(1), "B": .int32(2), "a": .int32(3), "é": .int32(4), "aa": .int32(5)]))
                == "{\"B\":2,\"a\":3,\"aa\":5,\"b\":1,\"é\":4}")
        #expect(json(.document([])) == "[]")
        #expect(json(.document(["inner": .document([])])) == "{\"inner\":[]}")
    }

    @Test("arrays keep their order and mix types")
    func arrays() {
        #expect(json(.array([.int32(3), .string("x"), .null, .double(1.5), .array([])])) == "[3,\"x\",null,1.5,[]]")
    }

    @Test("binary as standard base64 with padding (tinode-db's photo bytes)")
    func binary() {
        #expect(json(.binary([0xFF, 0xFE, 0x00, 0x3E])) == "\"//4APg==\"")
        #expect(json(.binary([])) == "\"\"")
    }

    @Test("datetimes as RFC 3339 UTC with trailing zeros dropped; Go's zero time too")
    func dates() {
        #expect(json(.dateTime(1_570_795_994_522)) == "\"2019-10-11T12:13:14.522Z\"")
        #expect(json(.dateTime(1_570_795_994_520)) == "\"2019-10-11T12:13:14.52Z\"")
        #expect(json(.dateTime(1_570_795_994_000)) == "\"2019-10-11T12:13:14Z\"")
        #expect(json(.dateTime(-62_135_596_800_000)) == "\"0001-01-01T00:00:00Z\"")
        #expect(json(.dateTime(-1)) == "\"1969-12-31T23:59:59.999Z\"")
        #expect(json(.dateTime(951_782_400_000)) == "\"2000-02-29T00:00:00Z\"")
    }

    @Test("ObjectId, decimal128, timestamp and regex as Go's driver types marshal")
    func driverTypes() {
        let raw = BSONDocument([])
        raw.withUnsafePointer { document in
            var oid = bson_oid_t()
            bson_oid_init_from_string(&oid, "5f1e2d3c4b5a69788796a5b4")
            bson_append_oid(document, "oid", -1, &oid)
            var decimal = bson_decimal128_t()
            bson_decimal128_from_string("1.50", &decimal)
            bson_append_decimal128(document, "dec", -1, &decimal)
            bson_append_timestamp(document, "ts", -1, 1_700_000_000, 3)
            bson_append_regex(document, "re", -1, "^a.c$", "i")
            bson_append_minkey(document, "min", -1)
            bson_append_undefined(document, "undef", -1)
            #expect(bson_count_keys(document) == 6)
        }
        #expect(String(decoding: raw.json("oid") ?? [], as: UTF8.self) == "\"5f1e2d3c4b5a69788796a5b4\"")
        #expect(String(decoding: raw.json("dec") ?? [], as: UTF8.self) == "{\"$numberDecimal\":\"1.50\"}")
        #expect(String(decoding: raw.json("ts") ?? [], as: UTF8.self) == "{\"T\":1700000000,\"I\":3}")
        #expect(String(decoding: raw.json("re") ?? [], as: UTF8.self) == "{\"Pattern\":\"^a.c$\",\"Options\":\"i\"}")
        #expect(String(decoding: raw.json("min") ?? [], as: UTF8.self) == "{}")
        #expect(String(decoding: raw.json("undef") ?? [], as: UTF8.self) == "null")
    }

    @Test("a whole Tinode message: Drafty content from a client (numbers as doubles), head values one by one")
    func storedMessage() throws {
        let stored = try #require(
            ClientJSON.storedContent(
                Data(#"{"txt":"Hi <b>","fmt":[{"at":0,"len":2,"tp":"EM"}],"ent":[{"tp":"LN","data":{"url":"https://x.y/?a=1&b=2"}}]}"#.utf8)
            ))
        #expect(
            stored["fmt"]
                == .array([.document([BSONElement("at", .double(0)), BSONElement("len", .double(2)), BSONElement("tp", .string("EM"))])]))
        let document = BSONDocument([
            BSONElement("content", stored),
            BSONElement("head", .document(["mime": .string("text/x-drafty"), "reply": .string(":12")])),
        ])
        #expect(
            String(decoding: document.json("content") ?? [], as: UTF8.self)
                == #"{"ent":[{"data":{"url":"https://x.y/?a=1\u0026b=2"},"tp":"LN"}],"fmt":[{"at":0,"len":2,"tp":"EM"}],"txt":"Hi \u003cb\u003e"}"#
        )
        let head = document.jsonMembers("head").mapValues { String(decoding: $0, as: UTF8.self) }
        #expect(head == ["mime": "\"text/x-drafty\"", "reply": "\":12\""])
    }

    @Test("the walk reads raw BSON bytes libbson produced, not only documents built here")
    func fromBytes() throws {
        let original = BSONDocument([BSONElement("content", .document(["n": .double(42), "s": .string("x")]))])
        let copy = try #require(BSONDocument(bytes: original.bytes))
        #expect(String(decoding: copy.json("content") ?? [], as: UTF8.self) == "{\"n\":42,\"s\":\"x\"}")
        #expect(BSONDocument(bytes: [1, 2, 3]) == nil)
    }
}
