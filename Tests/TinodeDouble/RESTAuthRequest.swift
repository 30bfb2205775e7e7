import Foundation

/// The JSON body Tinode POSTs to a REST-auth server (tinode-protocol.md 1.3; fixture rest-auth 02):
/// Go's `request` struct, so the keys come in field order and empty ones are left out.
enum RESTAuthRequest {
    /// Tinode sends the authenticator's logical name; the double has no `logical_names`.
    static let name = "rest"

    /// `secret` is the client's raw bytes in standard base64 with padding; `addr` is the client's
    /// `ip:port`, which only `auth` carries.
    static func body(endpoint: String, record: RESTAuthRecord? = nil, secret: Data, address: String = "") -> Data {
        var members: [(String, Data)] = [("endpoint", GoJSON.string(endpoint)), ("name", GoJSON.string(name))]
        if let record { members.append(("rec", record.goJSON)) }
        if !secret.isEmpty { members.append(("secret", GoJSON.string(secret.base64EncodedString()))) }
        if !address.isEmpty { members.append(("addr", GoJSON.string(address))) }
        return GoJSON.object(members)
    }
}
