import Crypto
import Foundation

/// base64url without padding (RFC 4648 §5), as JWTs use it.
public func base64URL(_ data: Data) -> String {
    data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        .replacingOccurrences(of: "=", with: "")
}

/// `header.payload` of a JWT made by hand, so that tests can write headers and claims no issuer would.
public func unsignedJWT(header: [String: Any], claims: [String: Any]) -> String {
    func encode(_ object: [String: Any]) -> String {
        base64URL(try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
    }
    return encode(header) + "." + encode(claims)
}

/// A JWT whose signature is HMAC-SHA256 with `secret`, whatever `alg` the header claims.
public func signHS256(header: [String: Any], claims: [String: Any], secret: [UInt8]) -> String {
    let input = unsignedJWT(header: header, claims: claims)
    let mac = HMAC<SHA256>.authenticationCode(for: Data(input.utf8), using: SymmetricKey(data: secret))
    return input + "." + base64URL(Data(mac))
}
