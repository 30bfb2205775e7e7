import Foundation
import TestSupport
import Testing

@testable import AuthPluginKit

@Suite("REST-auth wire format")
struct RESTAuthWireTests {
    @Test("Decodes the requests Tinode sends (section 1.4), capitalised State and nanosecond lifetime included")
    func decodesTinodeRequests() throws {
        let auth = try RESTAuthRequest(
            json: Array(#"{"endpoint":"auth","name":"rest","secret":"ZXlKaGJHY2lPaS54Lnk=","addr":"127.0.0.1:5555"}"#.utf8))
        #expect(auth == RESTAuthRequest(endpoint: "auth", name: "rest", secret: Array("eyJhbGciOi.x.y".utf8), address: "127.0.0.1:5555"))

        let link = try RESTAuthRequest(
            json: Array(
                #"{"endpoint":"link","name":"basic","rec":{"uid":"LELEQHDWbgY","authlvl":"auth","lifetime":5000000000000,"features":"V","tags":["email:alice@example.com"],"State":"ok"},"secret":"YWxpY2U6cHc="}"#
                    .utf8))
        #expect(link.name == "basic")
        #expect(link.record == .init(uid: "LELEQHDWbgY", tags: ["email:alice@example.com"], state: "ok"))
        #expect(link.secret == Array("alice:pw".utf8))
        #expect(link.address == nil)

        let add = try RESTAuthRequest(
            json: Array(
                #"{"endpoint":"add","name":"rest","rec":{"uid":"LELEQHDWbgY","tags":["a","b"],"State":"ok"},"secret":"dTpw","addr":"[::1]:3333"}"#
                    .utf8))
        #expect(add.address == "[::1]:3333")
        #expect(add.record?.tags == ["a", "b"])

        let gen = try RESTAuthRequest(
            json: Array(
                #"{"endpoint":"gen","name":"rest","rec":{"uid":"LELEQHDWbgY","authlvl":"auth","features":"L","State":"ok","cred":"email:a@b.c"}}"#
                    .utf8))
        #expect(gen.record?.uid == "LELEQHDWbgY")
        #expect(gen.secret == nil)

        let lower = try RESTAuthRequest(json: Array(#"{"endpoint":"del","rec":{"uid":"LELEQHDWbgY","state":"ok"}}"#.utf8))
        #expect(lower.record?.state == "ok")
        #expect(try RESTAuthRequest(json: Array(#"{"endpoint":"rtagns","name":"rest"}"#.utf8)).record == nil)
    }

    @Test(
        "Bodies that are not requests are refused with a reason",
        arguments: [
            ("", RESTAuthRequest.DecodingFailure.notJSONObject), ("[1,2]", .notJSONObject), ("{not json", .notJSONObject),
            (#"{"name":"rest"}"#, .missingEndpoint), (#"{"endpoint":7}"#, .wrongType("endpoint")),
            (#"{"endpoint":"auth","secret":12}"#, .wrongType("secret")), (#"{"endpoint":"auth","secret":"***"}"#, .badSecret),
            (#"{"endpoint":"link","rec":"x"}"#, .wrongType("rec")), (#"{"endpoint":"link","rec":{"tags":"a"}}"#, .wrongType("rec.tags")),
            (#"{"endpoint":"link","rec":{"uid":5}}"#, .wrongType("uid")), (#"{"endpoint":"auth","addr":[]}"#, .wrongType("addr")),
        ])
    func refusesBadBodies(body: String, failure: RESTAuthRequest.DecodingFailure) {
        #expect(throws: failure) { try RESTAuthRequest(json: Array(body.utf8)) }
    }

    @Test("Answers carry exactly the keys Tinode parses, and no empty uid")
    func encodesAnswers() throws {
        func object(_ response: RESTAuthResponse) throws -> NSDictionary {
            try #require(JSONSerialization.jsonObject(with: Data(response.encoded())) as? NSDictionary)
        }
        #expect(
            try object(RESTAuthResponse(rec: RESTAuthService.knownUser("LELEQHDWbgY")))
                == ["rec": ["uid": "LELEQHDWbgY", "authlvl": "auth", "features": "V", "state": "undef"]])
        #expect(
            try object(
                RESTAuthResponse(
                    rec: .init(authlvl: "auth", features: "V", tags: ["email:a@b.c", "rest:a_bc_12345678"], state: "ok"),
                    newacc: .init(auth: "JRWPAS", anon: "N", public: .init(fn: "Alice"))))
                == [
                    "rec": ["authlvl": "auth", "features": "V", "tags": ["email:a@b.c", "rest:a_bc_12345678"], "state": "ok"],
                    "newacc": ["auth": "JRWPAS", "anon": "N", "public": ["fn": "Alice"]],
                ])
        #expect(try object(.failure(.duplicateValue)) == ["err": "duplicate value"])
        #expect(try object(.empty) == [:])
        #expect(try object(RESTAuthResponse(strarr: ["rest"])) == ["strarr": ["rest"]])
    }

    @Test("Strings in answers are escaped so that any display name or tag stays valid JSON")
    func escaping() throws {
        let awkward = "Zoë \"Q\" \\ back\nslash\t\u{01}\u{1F} 漢 😀 </script>"
        let response = RESTAuthResponse(
            rec: .init(authlvl: "auth", features: "V", tags: [awkward], state: "ok"),
            newacc: .init(auth: "JRWPAS", anon: "N", public: .init(fn: awkward)))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(response.encoded())) as? [String: Any])
        #expect(((object["newacc"] as? [String: Any])?["public"] as? [String: Any])?["fn"] as? String == awkward)
        #expect((object["rec"] as? [String: Any])?["tags"] as? [String] == [awkward])
        #expect(String(decoding: RESTAuthResponse(boolval: false).encoded(), as: UTF8.self) == #"{"boolval":false}"#)
    }

    @Test(
        "Bodies that are not well-formed JSON are refused, however they break",
        arguments: [
            #"{"endpoint":"auth"} x"#, #"{"endpoint":"auth",}"#, #"{"endpoint" "auth"}"#, #"{"endpoint":"auth""#,
            #"{"endpoint":"auth","n":01}"#, #"{"endpoint":"auth","n":1.}"#, #"{"endpoint":"auth","n":-}"#,
            #"{"endpoint":"auth","n":1e}"#, #"{"endpoint":"auth","n":tru}"#, #"{"endpoint":"auth","n":nul}"#,
            #"{"endpoint":"a\qb"}"#, #"{"endpoint":"\ud800"}"#, #"{"endpoint":"\udc00\ud800"}"#, #"{"endpoint":"\u12G4"}"#,
            "{\"endpoint\":\"a\u{01}b\"}", #"{'endpoint':'auth'}"#, #"{"endpoint":"auth","n":[1,2,]}"#, "{\"endpoint\":\"auth\"",
        ])
    func refusesMalformedJSON(body: String) {
        #expect(throws: RESTAuthRequest.DecodingFailure.notJSONObject) { try RESTAuthRequest(json: Array(body.utf8)) }
    }

    @Test("Invalid UTF-8 and nesting beyond the limit are refused without crashing")
    func refusesInvalidBytesAndDeepNesting() {
        let invalidUTF8 = Array(#"{"endpoint":"au"#.utf8) + [0xC3, 0x28] + Array(#"th"}"#.utf8)
        #expect(throws: RESTAuthRequest.DecodingFailure.notJSONObject) { try RESTAuthRequest(json: invalidUTF8) }
        let overlong = Array(#"{"endpoint":""#.utf8) + [0xC0, 0xAF] + Array(#""}"#.utf8)
        #expect(throws: RESTAuthRequest.DecodingFailure.notJSONObject) { try RESTAuthRequest(json: overlong) }
        let deep = #"{"endpoint":"auth","x":"# + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}"
        #expect(throws: RESTAuthRequest.DecodingFailure.notJSONObject) { try RESTAuthRequest(json: Array(deep.utf8)) }
        let allowed = #"{"endpoint":"auth","x":"# + String(repeating: "[", count: 60) + String(repeating: "]", count: 60) + "}"
        #expect((try? RESTAuthRequest(json: Array(allowed.utf8)))?.endpoint == "auth")
    }

    @Test("Escapes are decoded, members of every kind are skipped, and an exact key wins over a case-folded one")
    func decodesEscapesAndKeyCase() throws {
        let escaped = try RESTAuthRequest(
            json: Array(
                #"{ "x" : {"a":[1,-2.5e+3,true,false,null,{"b":"c"}]}, "endpoint" : "a\u00e9\ud83d\ude00\"\\\/\b\f\n\r\t" , "NAME":"basic", "Addr":null }"#
                    .utf8))
        #expect(escaped.endpoint == "aé😀\"\\/\u{08}\u{0C}\n\r\t")
        #expect(escaped.name == "basic")
        #expect(escaped.address == nil)

        let exactLast = try RESTAuthRequest(json: Array(#"{"endpoint":"auth","name":"rest","Name":"basic"}"#.utf8))
        #expect(exactLast.name == "rest")
        let foldedTwice = try RESTAuthRequest(json: Array(#"{"endpoint":"auth","NAME":"one","Name":"two"}"#.utf8))
        #expect(foldedTwice.name == "two")
        let record = try RESTAuthRequest(
            json: Array(#"{"endpoint":"link","REC":{"UID":"LELEQHDWbgY","Tags":null,"state":"ok","State":"x"}}"#.utf8))
        #expect(record.record == .init(uid: "LELEQHDWbgY", tags: [], state: "ok"))
        #expect(throws: RESTAuthRequest.DecodingFailure.wrongType("rec.tags")) {
            try RESTAuthRequest(json: Array(#"{"endpoint":"link","rec":{"tags":["a",1]}}"#.utf8))
        }
        #expect(throws: RESTAuthRequest.DecodingFailure.wrongType("endpoint")) {
            try RESTAuthRequest(json: Array(#"{"endpoint":null}"#.utf8))
        }
    }

    @Test("Agrees with Foundation's JSON parser on generated bodies")
    func agreesWithFoundation() throws {
        var generator = SplitMix64(state: 0x5EED)
        for _ in 0..<500 {
            let object = RandomRequestBody.make(using: &generator)
            let body = try JSONSerialization.data(withJSONObject: object)
            let decoded = try RESTAuthRequest(json: Array(body))
            #expect(decoded.endpoint == object["endpoint"] as? String)
            #expect(decoded.name == object["name"] as? String)
            #expect(decoded.address == object["addr"] as? String)
            let record = object["rec"] as? [String: Any]
            #expect(decoded.record?.uid == record?["uid"] as? String)
            #expect(decoded.record?.state == record?["State"] as? String)
            #expect(decoded.record?.tags ?? [] == record?["tags"] as? [String] ?? [])
        }
    }
}

/// Request bodies with the fields Tinode sends plus noise members of every JSON kind, strings with
/// escapes and non-ASCII text.
enum RandomRequestBody {
    static func make(using generator: inout SplitMix64) -> [String: Any] {
        var object: [String: Any] = ["endpoint": text(using: &generator)]
        if Bool.random(using: &generator) { object["name"] = text(using: &generator) }
        if Bool.random(using: &generator) { object["addr"] = text(using: &generator) }
        if Bool.random(using: &generator) {
            var record: [String: Any] = ["uid": text(using: &generator), "State": text(using: &generator)]
            record["tags"] = (0..<Int.random(in: 0...3, using: &generator)).map { _ in text(using: &generator) }
            record["lifetime"] = Int.random(in: 0...5_000_000_000_000, using: &generator)
            object["rec"] = record
        }
        for index in 0..<Int.random(in: 0...4, using: &generator) {
            object["noise\(index)"] = noise(depth: 3, using: &generator)
        }
        return object
    }

    static func text(using generator: inout SplitMix64) -> String {
        let pieces = ["a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\u{01}", "é", "漢", "😀", "\u{7F}", "\u{2028}"]
        return String((0..<Int.random(in: 0...12, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined())
    }

    static func noise(depth: Int, using generator: inout SplitMix64) -> Any {
        switch Int.random(in: 0...(depth > 0 ? 6 : 4), using: &generator) {
        case 0: return NSNull()
        case 1: return Bool.random(using: &generator)
        case 2: return Double.random(in: -1e6...1e6, using: &generator)
        case 3: return Int.random(in: Int.min...Int.max, using: &generator)
        case 4: return text(using: &generator)
        case 5: return (0..<Int.random(in: 0...3, using: &generator)).map { _ in noise(depth: depth - 1, using: &generator) }
        default:
            var nested: [String: Any] = [:]
            for index in 0..<Int.random(in: 0...3, using: &generator) { nested["k\(index)"] = noise(depth: depth - 1, using: &generator) }
            return nested
        }
    }
}
