import Crypto

/// Bytes that must never be printed. Its description is always `<redacted>`.
public struct SecretBytes: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public let bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public init(_ text: String) { self.bytes = Array(text.utf8) }
    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }

    /// Secrets shorter than this are refused in production (HS256 wants a key as long as its hash).
    public static let minimumCount = 32

    /// 32 bytes from the system's secure random generator.
    public static func random() -> SecretBytes {
        SecretBytes(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) })
    }
}
