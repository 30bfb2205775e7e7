import Foundation
import TestSupport
import Testing
import Valkey

@testable import SidecarCore

/// Both idempotency stores keep the request's fingerprint with its key: the same request gets the
/// first answer, another request with the same key is told the key is taken.
@Suite("Idempotency stores and fingerprints")
struct IdempotencyStoreTests {
    static let first = IdempotencyFingerprint.of(scope: "usrA", parts: [Data(#""hello""#.utf8), Data()])
    static let other = IdempotencyFingerprint.of(scope: "usrA", parts: [Data(#""hello!""#.utf8), Data()])

    /// The behaviour both stores share.
    static func checkFingerprints(_ store: any IdempotencyStore) async throws {
        let key = UUID().uuidString
        #expect(try await store.claim(scope: "usrA", key: key, fingerprint: first, claimTTL: .seconds(60)) == .claimed(uncertain: nil))
        #expect(try await store.claim(scope: "usrA", key: key, fingerprint: first, claimTTL: .seconds(60)) == .inProgress)
        #expect(try await store.claim(scope: "usrA", key: key, fingerprint: other, claimTTL: .seconds(60)) == .reused)
        // Another user's key of the same name is theirs.
        #expect(try await store.claim(scope: "usrB", key: key, fingerprint: other, claimTTL: .seconds(60)) == .claimed(uncertain: nil))

        let answer = Data(#"{"seq":7,"topic":"grpX","ts":"2026-01-01T00:00:00.000Z"}"#.utf8)
        try await store.complete(scope: "usrA", key: key, fingerprint: first, answer: answer, ttl: .seconds(60))
        #expect(try await store.claim(scope: "usrA", key: key, fingerprint: first, claimTTL: .seconds(60)) == .completed(answer))
        #expect(try await store.claim(scope: "usrA", key: key, fingerprint: other, claimTTL: .seconds(60)) == .reused)

        let uncertainKey = UUID().uuidString
        let since = Date(timeIntervalSince1970: 1_800_000_000.123)
        try await store.markUncertain(scope: "usrA", key: uncertainKey, fingerprint: first, since: since, ttl: .seconds(60))
        // The earliest attempt is kept, with its request.
        try await store.markUncertain(
            scope: "usrA", key: uncertainKey, fingerprint: other, since: since.addingTimeInterval(5), ttl: .seconds(60))
        let attempt = try #require(try await store.uncertainAttempt(scope: "usrA", key: uncertainKey))
        #expect(abs(attempt.since.timeIntervalSince(since)) < 0.002)
        #expect(attempt.matches(first))
        #expect(!attempt.matches(other))
        // The next claim of the key carries that attempt (read in the same round trip), and a
        // completion forgets it.
        guard
            case .claimed(let carried?) = try await store.claim(
                scope: "usrA", key: uncertainKey, fingerprint: first, claimTTL: .seconds(60))
        else {
            Issue.record("a claim after an uncertain attempt must carry it")
            return
        }
        #expect(carried == attempt)
        try await store.complete(scope: "usrA", key: uncertainKey, fingerprint: first, answer: answer, ttl: .seconds(60))
        #expect(try await store.uncertainAttempt(scope: "usrA", key: uncertainKey) == nil)
        #expect(try await store.claim(scope: "usrA", key: uncertainKey, fingerprint: first, claimTTL: .seconds(60)) == .completed(answer))
    }

    /// A claim with a rate charge: only a claim that is granted costs a token; an empty bucket
    /// claims nothing and says when a token is back.
    static func checkCharges(_ store: any IdempotencyStore, limiter: any RateLimiter) async throws {
        let bucket = "send:" + UUID().uuidString
        let charge = RateCharge(limiter: limiter, key: bucket, limit: RateLimit(capacity: 2, perSecond: 0.01))
        let (a, b, c) = (UUID().uuidString, UUID().uuidString, UUID().uuidString)
        let granted = try await store.claim(scope: "usrC", key: a, fingerprint: first, claimTTL: .seconds(60), charging: charge)
        #expect(granted == .claimed(uncertain: nil))
        // Held keys are answered without a token.
        for _ in 0..<3 {
            let held = try await store.claim(scope: "usrC", key: a, fingerprint: first, claimTTL: .seconds(60), charging: charge)
            #expect(held == .inProgress)
        }
        let second = try await store.claim(scope: "usrC", key: b, fingerprint: first, claimTTL: .seconds(60), charging: charge)
        #expect(second == .claimed(uncertain: nil))
        // The bucket (2) is empty now: nothing is claimed, and the wait is about 1 / 0.01 s.
        let refused = try await store.claim(scope: "usrC", key: c, fingerprint: first, claimTTL: .seconds(60), charging: charge)
        guard case .limited(let retryAfter) = refused else {
            Issue.record("an empty bucket must refuse the claim, got \(refused)")
            return
        }
        #expect(retryAfter > .seconds(90) && retryAfter <= .seconds(100))
        let unclaimed = try await store.claim(scope: "usrC", key: c, fingerprint: first, claimTTL: .seconds(60))
        #expect(unclaimed == .claimed(uncertain: nil))
        // The limiter's own view of the bucket agrees: empty.
        guard case .limited = try await limiter.take(bucket, limit: charge.limit) else {
            Issue.record("the charges must come out of the limiter's bucket")
            return
        }
    }

    @Test("in memory: a claim with a rate charge costs a token only when granted")
    func inMemoryCharges() async throws {
        try await Self.checkCharges(InMemoryIdempotencyStore(), limiter: InMemoryRateLimiter())
    }

    @Test("in Valkey: claim and token in one round trip, from the limiter's own bucket")
    func valkeyCharges() async throws {
        try await withValkeyClient(try TokenStoreTestServer.configuration()) { client in
            let prefix = "test-\(UUID().uuidString):"
            try await Self.checkCharges(
                ValkeyIdempotencyStore(client: client, keyPrefix: prefix), limiter: ValkeyRateLimiter(client: client, keyPrefix: prefix))
        }
    }

    @Test("in memory: the same request is answered, another one with the key is refused")
    func inMemory() async throws {
        try await Self.checkFingerprints(InMemoryIdempotencyStore())
    }

    @Test("in Valkey: the same request is answered, another one with the key is refused")
    func valkey() async throws {
        try await withValkeyClient(try TokenStoreTestServer.configuration()) { client in
            try await Self.checkFingerprints(ValkeyIdempotencyStore(client: client, keyPrefix: "test-\(UUID().uuidString):"))
        }
    }

    @Test("in Valkey: values written before fingerprints were kept still count, for any request")
    func valkeyEarlierValues() async throws {
        try await withValkeyClient(try TokenStoreTestServer.configuration()) { client in
            let prefix = "test-\(UUID().uuidString):"
            let store = ValkeyIdempotencyStore(client: client, keyPrefix: prefix)
            _ = try await client.set(prefix + "idem:usrA:pending", to: Array("\u{0}pending".utf8), expiration: .seconds(60))
            _ = try await client.set(prefix + "idem:usrA:done", to: #"{"seq":3}"#, expiration: .seconds(60))
            _ = try await client.set(prefix + "idem-uncertain:usrA:lost", to: "1800000000123", expiration: .seconds(60))
            #expect(try await store.claim(scope: "usrA", key: "pending", fingerprint: Self.other, claimTTL: .seconds(60)) == .inProgress)
            #expect(
                try await store.claim(scope: "usrA", key: "done", fingerprint: Self.other, claimTTL: .seconds(60))
                    == .completed(Data(#"{"seq":3}"#.utf8)))
            let attempt = try #require(try await store.uncertainAttempt(scope: "usrA", key: "lost"))
            #expect(attempt.fingerprint == nil && attempt.matches(Self.other))
            _ = try await client.del([prefix + "idem:usrA:pending", prefix + "idem:usrA:done", prefix + "idem-uncertain:usrA:lost"])
        }
    }

    @Test("a fingerprint depends on the user and on every part, and parts cannot be shifted into one another")
    func fingerprints() {
        let text = Data(#""hi""#.utf8)
        #expect(
            IdempotencyFingerprint.of(scope: "usrA", parts: [text, Data()])
                == IdempotencyFingerprint.of(scope: "usrA", parts: [text, Data()]))
        #expect(
            IdempotencyFingerprint.of(scope: "usrA", parts: [text, Data()])
                != IdempotencyFingerprint.of(scope: "usrB", parts: [text, Data()]))
        #expect(
            IdempotencyFingerprint.of(scope: "usrA", parts: [Data("ab".utf8), Data("c".utf8)])
                != IdempotencyFingerprint.of(scope: "usrA", parts: [Data("a".utf8), Data("bc".utf8)]))
        #expect(IdempotencyFingerprint.of(scope: "usrA", parts: []).count == 64)
    }
}
