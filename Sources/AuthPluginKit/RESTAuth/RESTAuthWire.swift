import Foundation
import SidecarCore

/// The endpoints of Tinode's REST authenticator (tinode-protocol.md 1.5).
public enum RESTAuthEndpoint: String, Sendable, CaseIterable {
    case add, auth, checkunique, del, gen, link, upd, rtagns
}

/// A request as Tinode sends it (tinode-protocol.md 1.3). Decoded leniently by hand: Tinode's own
/// JSON matching is case-insensitive (`State` and `state` are one key), and a wrong type anywhere
/// must become `{"err":"malformed"}`, not a crash.
public struct RESTAuthRequest: Sendable, Equatable {
    public var endpoint: String
    /// The logical authenticator name (`rest`, or `basic` under `logical_names`).
    public var name: String?
    public var record: Record?
    /// The client's secret, base64-decoded.
    public var secret: [UInt8]?
    /// The client's `ip:port` as Tinode saw it (never for link, gen, del, rtagns).
    public var address: String?

    /// The `rec` Tinode sends: only the parts we use are kept.
    public struct Record: Sendable, Equatable {
        /// 11-character base64url user id, no `usr` prefix.
        public var uid: String?
        public var tags: [String]
        public var state: String?
    }

    /// Why a body is not a request.
    public enum DecodingFailure: Error, Equatable {
        case notJSONObject
        case wrongType(String)
        case missingEndpoint
        case badSecret
    }

    /// Decodes a request body. The first failure in this order is reported: endpoint, name, addr,
    /// secret, rec (its tags, uid, state).
    public init(json body: some Collection<UInt8>) throws(DecodingFailure) {
        let members: RequestMembers
        do {
            members =
                try body.withContiguousStorageIfAvailable { try RequestMembers(reading: $0) }
                ?? Array(body).withUnsafeBufferPointer { try RequestMembers(reading: $0) }
        } catch {
            throw .notJSONObject
        }
        guard let endpointValue = members.endpoint.value else { throw .missingEndpoint }
        guard case .string(let endpoint) = endpointValue else { throw .wrongType("endpoint") }
        self.endpoint = endpoint
        name = try members.name.string("name")
        address = try members.addr.string("addr")
        if let secretText = try members.secret.string("secret") {
            // Standard base64 with padding (RFC 4648 §4), as Go's encoding/json writes []byte.
            guard let decoded = Data(base64Encoded: secretText) else { throw .badSecret }
            secret = Array(decoded)
        }
        switch members.rec.value {
        case nil, .null: break
        case .wrongType: throw .wrongType("rec")
        case .object(let fields):
            var tags: [String] = []
            switch fields.tags.value {
            case nil, .null: break
            case .wrongType: throw .wrongType("rec.tags")
            case .strings(let strings): tags = strings
            }
            record = Record(uid: try fields.uid.string("uid"), tags: tags, state: try fields.state.string("state"))
        }
    }

    public init(endpoint: String, name: String? = "rest", record: Record? = nil, secret: [UInt8]? = nil, address: String? = nil) {
        self.endpoint = endpoint
        self.name = name
        self.record = record
        self.secret = secret
        self.address = address
    }
}

/// An answer in the exact shape Tinode parses (tinode-protocol.md 1.3, 1.6). Optional fields are
/// left out when nil, so a `uid` is either a real id or absent (never `""` or `null`), and nothing
/// here can express `byteval` or `redirected`, which would break or crash Tinode.
public struct RESTAuthResponse: Encodable, Sendable, Equatable {
    public var err: RESTAuthError?
    public var rec: Record?
    public var newacc: NewAccount?
    public var boolval: Bool?
    public var strarr: [String]?

    public struct Record: Encodable, Sendable, Equatable {
        public var uid: String?
        public var authlvl: String?
        public var features: String?
        public var tags: [String]?
        public var state: String?
    }

    public struct NewAccount: Encodable, Sendable, Equatable {
        /// Default access for authenticated users (`JRWPAS`: without it nobody can open a p2p chat).
        public var auth: String
        public var anon: String
        public var `public`: PublicDescription?
    }

    public struct PublicDescription: Encodable, Sendable, Equatable {
        public var fn: String
    }

    public static func failure(_ error: RESTAuthError) -> RESTAuthResponse { RESTAuthResponse(err: error) }
    public static let empty = RESTAuthResponse()

    /// The JSON body, written by hand: this runs on every request and Foundation's encoder was a
    /// visible share of the cost. Keys as Tinode reads them; nil fields are left out.
    public func encoded() -> [UInt8] {
        var json = JSONWriter()
        json.beginObject()
        if let err { json.field("err", string: err.rawValue) }
        if let rec {
            json.key("rec")
            json.beginObject()
            if let uid = rec.uid { json.field("uid", string: uid) }
            if let level = rec.authlvl { json.field("authlvl", string: level) }
            if let features = rec.features { json.field("features", string: features) }
            if let tags = rec.tags { json.field("tags", strings: tags) }
            if let state = rec.state { json.field("state", string: state) }
            json.endObject()
        }
        if let newacc {
            json.key("newacc")
            json.beginObject()
            json.field("auth", string: newacc.auth)
            json.field("anon", string: newacc.anon)
            if let description = newacc.public {
                json.key("public")
                json.beginObject()
                json.field("fn", string: description.fn)
                json.endObject()
            }
            json.endObject()
        }
        if let boolval { json.field("boolval", bool: boolval) }
        if let strarr { json.field("strarr", strings: strarr) }
        json.endObject()
        return json.bytes
    }
}

/// A minimal JSON writer for the answers above: objects, strings, booleans, string arrays.
struct JSONWriter {
    private(set) var bytes: [UInt8] = []
    private var needsComma = false

    init() { bytes.reserveCapacity(160) }

    mutating func beginObject() {
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    mutating func key(_ name: String) {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        appendString(name)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    mutating func field(_ name: String, string value: String) {
        key(name)
        appendString(value)
        needsComma = true
    }

    mutating func field(_ name: String, bool value: Bool) {
        key(name)
        bytes.append(contentsOf: value ? Array("true".utf8) : Array("false".utf8))
        needsComma = true
    }

    mutating func field(_ name: String, strings values: [String]) {
        key(name)
        bytes.append(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            appendString(value)
        }
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    private mutating func appendString(_ value: String) {
        JSONStringEscaping.append(value, to: &bytes)
    }
}

/// The error strings Tinode maps to client ctrl codes (tinode-protocol.md 1.6). Only strings with
/// a safe mapping exist here: never `redirected` (crashes Tinode).
public enum RESTAuthError: String, Error, Encodable, Sendable {
    /// 500 internal error: the store is down or the deadline passed.
    case `internal`
    /// 400: the request or the token could not be read.
    case malformed
    /// 401: bad signature, unknown issuer, wrong claims.
    case failed
    /// 401: expired or revoked.
    case expired
    /// 409 duplicate credential.
    case duplicateValue = "duplicate value"
    /// 501 (and 405 for `del`, which we never answer with it).
    case unsupported
    /// 404.
    case notFound = "not found"
}
