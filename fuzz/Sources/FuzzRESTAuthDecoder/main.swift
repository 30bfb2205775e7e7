// libFuzzer target: the REST-auth request decoder, through its public entry point
// `RESTAuthRequest(json:)` only, so that it follows whatever implementation AuthPlugin uses.
//
// Invariants checked on every input:
// * decoding never crashes: any body is a request or a `DecodingFailure`;
// * what is accepted round-trips: the request written back as JSON (standard base64 secret, as
//   Tinode sends it) decodes to an equal request.
import AuthPluginKit
import Foundation
import FuzzSupport

enum RESTAuthDecoderFuzzing {
    static func check(_ bytes: UnsafeRawBufferPointer) {
        let request: RESTAuthRequest
        do {
            request = try RESTAuthRequest(json: bytes)
        } catch {
            return
        }
        let again: RESTAuthRequest
        do {
            again = try RESTAuthRequest(json: reencoded(request))
        } catch {
            fatalError("re-encoded request refused (\(error)): \(request)")
        }
        guard again == request else { fatalError("round trip changed the request: \(request) -> \(again)") }
    }

    /// The request as Tinode would send it.
    static func reencoded(_ request: RESTAuthRequest) -> [UInt8] {
        var object: [String: Any] = ["endpoint": request.endpoint]
        if let name = request.name { object["name"] = name }
        if let address = request.address { object["addr"] = address }
        if let secret = request.secret { object["secret"] = Data(secret).base64EncodedString() }
        if let record = request.record {
            var rec: [String: Any] = ["tags": record.tags]
            if let uid = record.uid { rec["uid"] = uid }
            if let state = record.state { rec["state"] = state }
            object["rec"] = rec
        }
        return Array(try! JSONSerialization.data(withJSONObject: object))
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRESTAuthDecoder(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    RESTAuthDecoderFuzzing.check(UnsafeRawBufferPointer(start: start, count: count))
    return 0
}

runFuzzer { data, count in
    guard let data else { return 0 }
    return fuzzRESTAuthDecoder(data, count)
}
