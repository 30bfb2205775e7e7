import Crypto
import Foundation

/// What identifies a request sent with an `Idempotency-Key`: a SHA-256 of the caller and of the
/// request's meaning, stored with the key, so that the key sent again with another request is
/// refused instead of answered with the first request's result.
///
/// The Gateway hashes what it would send to Tinode (the encoded content and its `mime`), not the
/// raw body, so that a retry whose JSON is spaced or ordered differently is still the same request.
public enum IdempotencyFingerprint {
    /// Lower-case hex of SHA-256 over `scope` and each part, every one preceded by its length (so
    /// that no two different lists of parts hash alike).
    public static func of(scope: String, parts: [Data]) -> String {
        var hash = SHA256()
        for part in [Data(scope.utf8)] + parts {
            withUnsafeBytes(of: UInt64(part.count).bigEndian) { hash.update(bufferPointer: $0) }
            hash.update(data: part)
        }
        return hash.finalize().map { byte in String(byte, radix: 16).leftPadded(to: 2) }.joined()
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
