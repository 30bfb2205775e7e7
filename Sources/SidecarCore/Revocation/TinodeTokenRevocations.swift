import Foundation
import Valkey

/// Per user, the time before which Tinode tokens no longer count: set by logout-all, account
/// deletion and refresh-token reuse, and read by FireHose at every `{login scheme:"token"}`.
///
/// Tinode cannot revoke one of its own tokens (tinode-protocol.md 4.2: only a new key or serial
/// revokes all of them), and a token stays good for `expire_in`, sliding with every token login. A
/// token carries its expiry, so its issue time is that expiry minus `expire_in`; AuthPlugin's
/// FireHose answers 401 to a token login whose token was issued before the user's mark. A mark is
/// kept for one token lifetime: every token issued before it has expired by then.
public protocol TinodeTokenRevocations: Sendable {
    /// Tokens of `userID` (`usr...`) issued before `instant` stop working; an earlier mark never
    /// replaces a later one.
    func revoke(userID: String, issuedBefore instant: Date) async throws
    /// The user's mark, or nil.
    func revokedBefore(userID: String) async throws -> Date?
}

/// In Valkey under `<prefix>tinode-revoked:<userID>`: unix seconds, expiring after one token lifetime.
public struct ValkeyTinodeTokenRevocations: TinodeTokenRevocations {
    private let client: ValkeyClient
    private let keyPrefix: String
    private let tokenLifetime: Duration

    public init(client: ValkeyClient, tokenLifetime: Duration, keyPrefix: String = "sidecar:") {
        self.client = client
        self.tokenLifetime = tokenLifetime
        self.keyPrefix = keyPrefix
    }

    public func revoke(userID: String, issuedBefore instant: Date) async throws {
        let seconds = Int64(instant.timeIntervalSince1970.rounded(.down))
        _ = try await storeOperation {
            try await client.evaluate(
                Self.raiseScript, keys: [key(userID)], arguments: [String(seconds), String(tokenLifetime.components.seconds)])
        }
    }

    public func revokedBefore(userID: String) async throws -> Date? {
        guard let text = try await storeOperation({ try await client.getString(key(userID)) }), let seconds = Int64(text) else {
            return nil
        }
        return Date(timeIntervalSince1970: TimeInterval(seconds))
    }

    private func key(_ userID: String) -> String { keyPrefix + "tinode-revoked:" + userID }

    /// KEYS: the mark. ARGV: unix seconds, lifetime in seconds. Keeps the later mark.
    private static let raiseScript = ValkeyScript(
        """
        local current = tonumber(redis.call('GET', KEYS[1]) or '0')
        if tonumber(ARGV[1]) > current then
          redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
        end
        return 1
        """
    )
}

/// The embedded default (one process only; development).
public actor InMemoryTinodeTokenRevocations: TinodeTokenRevocations {
    private var marks: [String: Date] = [:]

    public init() {}

    public func revoke(userID: String, issuedBefore instant: Date) {
        let mark = Date(timeIntervalSince1970: instant.timeIntervalSince1970.rounded(.down))
        if let current = marks[userID], current >= mark { return }
        marks[userID] = mark
    }

    public func revokedBefore(userID: String) -> Date? { marks[userID] }
}

/// The parts of a Tinode token FireHose needs (tinode-protocol.md 4.2: 50 bytes, little-endian,
/// `[0:8]` uid, `[8:12]` expiry in unix seconds, then level, serial, features and an HMAC). Read
/// without checking the HMAC: Tinode checks it itself after FireHose answers CONTINUE; a forged
/// token can only make FireHose refuse a login Tinode would refuse anyway.
public struct TinodeTokenLayout: Sendable, Equatable {
    /// Tinode's `usr...` id: the uid's eight bytes in unpadded base64url.
    public var userID: String
    public var expires: Date

    public static let length = 50

    public init?(_ token: Data) {
        guard token.count == Self.length else { return nil }
        let bytes = [UInt8](token)
        userID = "usr" + Data(bytes[0..<8]).base64URLEncodedString()
        let seconds = bytes[8..<12].enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
        expires = Date(timeIntervalSince1970: TimeInterval(seconds))
    }

    /// When Tinode issued it, given its `expire_in`.
    public func issued(lifetime: Duration) -> Date {
        expires.addingTimeInterval(-TimeInterval(lifetime.components.seconds))
    }
}
