import Crypto
import Foundation

/// Tinode's `token` authenticator (tinode-protocol.md 4.2): 50 bytes, little-endian
/// `uid u64 | expires u32 (unix seconds) | auth level u16 | serial u16 | features u16`, then
/// HMAC-SHA256 over those 18 bytes. The key is random per double, so tokens from one double (or
/// from the recordings) never work on another, while they survive `stop()`/`restart()`.
struct TokenMint: Sendable {
    static let length = 50
    private static let bodyLength = 18

    /// The fixture server's `serial_num`.
    private static let serial: UInt16 = 1
    /// Feature 1 ("V"): the user's required credentials were validated (or none are required). A
    /// token issued with a "validate credentials" reply lacks it (fixture i).
    private static let validatedFeature: UInt16 = 1

    private let key = SymmetricKey(size: .bits256)

    enum Verdict: Equatable {
        case valid(user: UInt64, level: AuthLevel, expiresAtSeconds: Int64)
        /// Shorter than 50 bytes: 400 malformed.
        case malformed
        /// Bad signature, serial or level, or expired: 401.
        case rejected
    }

    func issue(user: UInt64, level: AuthLevel, expiresAtMillis: Int64, validated: Bool = true) -> Data {
        var body = [UInt8]()
        body.reserveCapacity(Self.length)
        append(user, to: &body)
        append(UInt32(clamping: expiresAtMillis / 1000), to: &body)
        append(level.rawValue, to: &body)
        append(Self.serial, to: &body)
        append(validated ? Self.validatedFeature : 0, to: &body)
        let signature = HMAC<SHA256>.authenticationCode(for: body, using: key)
        body.append(contentsOf: signature)
        return Data(body)
    }

    /// Like Tinode, only a too-short secret is malformed; bytes after the first 50 are ignored.
    func check(_ token: Data, nowMillis: Int64) -> Verdict {
        guard token.count >= Self.length else { return .malformed }
        let bytes = [UInt8](token.prefix(Self.length))
        let body = bytes[0..<Self.bodyLength]
        guard HMAC<SHA256>.isValidAuthenticationCode(bytes[Self.bodyLength...], authenticating: body, using: key) else {
            return .rejected
        }
        let user: UInt64 = read(bytes, at: 0)
        let expires: UInt32 = read(bytes, at: 8)
        let level: UInt16 = read(bytes, at: 12)
        let serial: UInt16 = read(bytes, at: 14)
        guard serial == Self.serial, let authLevel = AuthLevel(rawValue: level) else { return .rejected }
        // Tinode treats a token as expired one second before its expiry time.
        guard Int64(expires) * 1000 >= nowMillis + 1000 else { return .rejected }
        return .valid(user: user, level: authLevel, expiresAtSeconds: Int64(expires))
    }

    private func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    private func read<T: FixedWidthInteger>(_ bytes: [UInt8], at offset: Int) -> T {
        var value: T = 0
        for index in (0..<MemoryLayout<T>.size).reversed() { value = value << 8 | T(bytes[offset + index]) }
        return value
    }
}
