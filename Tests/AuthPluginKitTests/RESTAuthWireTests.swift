import Foundation
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
}
