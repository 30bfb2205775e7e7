import Foundation
import Synchronization
import Testing
import Valkey

@testable import SidecarCore

/// The password-protected server that `scripts/test` starts and exports as `VALKEY_TEST_URL`.
enum TokenStoreTestServer {
    /// Fails (never skips) when the variable is missing, so a green run always means a real server answered.
    static func configuration(sourceLocation: SourceLocation = #_sourceLocation) throws -> ValkeyConfiguration {
        let url = try #require(
            ProcessInfo.processInfo.environment["VALKEY_TEST_URL"].flatMap { $0.isEmpty ? nil : $0 },
            """
            VALKEY_TEST_URL is not set: run scripts/test, which starts a password-protected redis-server and \
            exports it (or start one yourself and export VALKEY_TEST_URL=redis://:PASSWORD@127.0.0.1:PORT/0)
            """,
            sourceLocation: sourceLocation
        )
        return try ValkeyConfiguration(url: url, poolSize: 4)
    }
}

/// A clock that only moves when a test advances it, so expiry can be tested without sleeping.
final class TokenStoreTestClock: Clock, @unchecked Sendable {
    struct Instant: InstantProtocol {
        var offset: Duration
        func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        func duration(to other: Instant) -> Duration { other.offset - offset }
        static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.offset < rhs.offset }
    }

    private let current = Mutex(Instant(offset: .zero))

    var now: Instant { current.withLock { $0 } }
    var minimumResolution: Duration { .nanoseconds(1) }

    func advance(by duration: Duration) {
        current.withLock { $0 = $0.advanced(by: duration) }
    }

    func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        while now < deadline {
            try await Task.sleep(for: .milliseconds(1))
        }
    }
}

/// A record with fresh random ids, as the Gateway would write after a login.
func makeTokenRecord(userID: String = "usr" + randomID(), accessID: String = randomID()) -> TokenRecord {
    TokenRecord(
        accessID: accessID,
        userID: userID,
        tinodeToken: Data((0..<40).map { _ in UInt8.random(in: 0...255) }).base64EncodedString(),
        tinodeTokenExpires: Date().addingTimeInterval(14 * 24 * 3600),
        createdAt: Date(),
        login: "john_gm_1a2b3c4d",
        email: "john@example.com"
    )
}

/// 128 random bits as 32 hex digits, like an access id.
func randomID() -> String {
    (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
}
