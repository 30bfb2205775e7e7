import Foundation
import TestSupport
import Testing
import Valkey

@testable import SidecarCore

/// Rotation, reuse and retries of refresh families, for both stores: the same rules in Valkey
/// (one Lua script, the server's clock) and in memory.
@Suite("Refresh families: rotation, reuse, retries")
struct RefreshFamilyStoreTests {
    static let payload = Data(#"{"user":"usrA"}"#.utf8)
    static let ttl: Duration = .seconds(60)

    static func next(_ n: Int) -> RefreshSuccessor { RefreshSuccessor(refreshID: "r\(n)", accessID: "a\(n)") }

    /// Runs `body` against the in-memory store and a Valkey store with its own key prefix.
    static func withEachStore(_ body: (any RefreshFamilyStore) async throws -> Void) async throws {
        try await body(InMemoryRefreshFamilyStore())
        try await withValkeyClient(try TokenStoreTestServer.configuration()) { client in
            try await body(ValkeyRefreshFamilyStore(client: client, keyPrefix: "refresh-tests:\(UUID().uuidString):"))
        }
    }

    @Test("the live id rotates; the replaced id presented within the window gets the same successor")
    func retryWithinWindow() async throws {
        try await Self.withEachStore { store in
            try await store.start(familyID: "f", refreshID: "r0", payload: Self.payload, ttl: Self.ttl)
            let first = try await store.rotate(
                familyID: "f", presented: "r0", next: Self.next(1), payload: nil, ttl: Self.ttl, retryWindow: .seconds(5))
            #expect(first == .rotated(payload: Self.payload))
            // The retry proposes other ids; the store answers with the ones chosen first.
            let retry = try await store.rotate(
                familyID: "f", presented: "r0", next: Self.next(2), payload: nil, ttl: Self.ttl, retryWindow: .seconds(5))
            #expect(retry == .retried(payload: Self.payload, successor: Self.next(1)))
            // The successor is live.
            let second = try await store.rotate(
                familyID: "f", presented: "r1", next: Self.next(3), payload: nil, ttl: Self.ttl, retryWindow: .seconds(5))
            #expect(second == .rotated(payload: Self.payload))
            // r0 is two rotations old: reuse, and the family is gone.
            let reuse = try await store.rotate(
                familyID: "f", presented: "r0", next: Self.next(4), payload: nil, ttl: Self.ttl, retryWindow: .seconds(5))
            #expect(reuse == .reused)
            let after = try await store.rotate(
                familyID: "f", presented: "r3", next: Self.next(5), payload: nil, ttl: Self.ttl, retryWindow: .seconds(5))
            #expect(after == .unknownFamily)
        }
    }

    @Test("without a window, or after it, the replaced id is a reuse")
    func noRetryOutsideWindow() async throws {
        try await Self.withEachStore { store in
            try await store.start(familyID: "g", refreshID: "r0", payload: Self.payload, ttl: Self.ttl)
            _ = try await store.rotate(familyID: "g", presented: "r0", next: Self.next(1), payload: nil, ttl: Self.ttl, retryWindow: .zero)
            let reuse = try await store.rotate(
                familyID: "g", presented: "r0", next: Self.next(2), payload: nil, ttl: Self.ttl, retryWindow: .zero)
            #expect(reuse == .reused)

            try await store.start(familyID: "h", refreshID: "r0", payload: Self.payload, ttl: Self.ttl)
            _ = try await store.rotate(
                familyID: "h", presented: "r0", next: Self.next(1), payload: nil, ttl: Self.ttl, retryWindow: .milliseconds(300))
            try await Task.sleep(for: .milliseconds(450))
            let late = try await store.rotate(
                familyID: "h", presented: "r0", next: Self.next(2), payload: nil, ttl: Self.ttl, retryWindow: .milliseconds(300))
            #expect(late == .reused)
        }
    }

    @Test("an id that was never the family's is a reuse even within the window")
    func strangerIsReuse() async throws {
        try await Self.withEachStore { store in
            try await store.start(familyID: "k", refreshID: "r0", payload: Self.payload, ttl: Self.ttl)
            _ = try await store.rotate(
                familyID: "k", presented: "r0", next: Self.next(1), payload: nil, ttl: Self.ttl, retryWindow: .seconds(5))
            let stranger = try await store.rotate(
                familyID: "k", presented: "forged", next: Self.next(2), payload: nil, ttl: Self.ttl, retryWindow: .seconds(5))
            #expect(stranger == .reused)
        }
    }
}
