import Crypto
import Foundation
import Synchronization
import Testing

@testable import SidecarCore

/// Once the issuer's keys are stale and its JWKS URL fails, fetches back off (doubling, capped)
/// instead of being tried again on every token that is verified.
@Suite("JWKS fetches back off after failures")
struct JWKSBackoffTests {
    /// A JWKS endpoint that counts its fetches and answers a one-key set, or fails.
    final class Issuer: Sendable {
        private let state = Mutex<(fetches: Int, up: Bool)>((0, true))
        let document: [UInt8]

        init() {
            let x = Curve25519.Signing.PrivateKey().publicKey.rawRepresentation.base64EncodedString()
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
            document = Array(#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"\#(x)"}]}"#.utf8)
        }

        var fetches: Int { state.withLock { $0.fetches } }
        func setUp(_ up: Bool) { state.withLock { $0.up = up } }

        func fetch() throws -> [UInt8] {
            let up = state.withLock { state in
                state.fetches += 1
                return state.up
            }
            guard up else { throw JWKSError.unreachable(reason: "HTTP 503") }
            return document
        }
    }

    /// Calls `keys(for:)` every 10 ms for `duration`, as a stream of tokens would.
    static func verify(_ source: JWKSKeySource, kid: String = "k1", for duration: Duration) async throws {
        let end = ContinuousClock.now + duration
        while ContinuousClock.now < end {
            _ = await source.keys(for: kid)
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    @Test("stale keys and a failing issuer: one fetch per backoff, the backoff doubles up to its cap, a success resets it")
    func staleKeysBackOff() async throws {
        let issuer = Issuer()
        let source = JWKSKeySource(
            refreshInterval: .milliseconds(50), initialBackoff: .seconds(1), maximumBackoff: .seconds(2)
        ) { try issuer.fetch() }
        #expect(await source.keys(for: "k1").count == 1)
        #expect(issuer.fetches == 1)

        issuer.setUp(false)
        try await Task.sleep(for: .milliseconds(80))  // the keys are stale now
        // About 30 verifications in 300 ms: one fetch, not one each.
        try await Self.verify(source, for: .milliseconds(300))
        #expect(issuer.fetches == 2)
        #expect(await source.backoff == .seconds(1))
        // The keys held still verify meanwhile.
        #expect(await source.keys(for: "k1").count == 1)

        try await Task.sleep(for: .milliseconds(800))  // a second after the failure
        try await Self.verify(source, for: .milliseconds(500))
        #expect(issuer.fetches == 3)
        #expect(await source.backoff == .seconds(2))

        try await Task.sleep(for: .milliseconds(1800))  // two seconds after the second failure
        try await Self.verify(source, for: .milliseconds(200))
        #expect(issuer.fetches == 4)
        // Capped: doubling again would be 4 s.
        #expect(await source.backoff == .seconds(2))

        issuer.setUp(true)
        try await Task.sleep(for: .milliseconds(2300))
        _ = await source.keys(for: "k1")
        // That call started the fetch in the background, keeping the stale keys meanwhile.
        var reset = false
        for _ in 0..<200 where !reset {
            reset = await source.backoff == .zero
            if !reset { try await Task.sleep(for: .milliseconds(10)) }
        }
        #expect(reset)
        #expect(issuer.fetches == 5)
    }

    @Test("a forced fetch (an unknown kid) waits for a backoff longer than the 30 s between forced fetches")
    func forcedFetchesBackOffToo() async throws {
        let issuer = Issuer()
        issuer.setUp(false)
        let source = JWKSKeySource(refreshInterval: .seconds(300), initialBackoff: .seconds(60)) { try issuer.fetch() }
        #expect(await source.keys(for: "k1").isEmpty)
        #expect(issuer.fetches == 1)
        // Without the backoff, the first forced fetch would go out at once.
        try await Self.verify(source, kid: "unknown", for: .milliseconds(100))
        #expect(issuer.fetches == 1)
    }

    @Test("after one failure, a forced fetch is still allowed at once (the backoff is shorter than 30 s)")
    func shortBackoffKeepsForcedFetch() async throws {
        let issuer = Issuer()
        issuer.setUp(false)
        let source = JWKSKeySource(refreshInterval: .seconds(300)) { try issuer.fetch() }
        #expect(await source.keys(for: "k1").isEmpty)
        issuer.setUp(true)
        #expect(await source.keys(for: "k1").count == 1)
        #expect(issuer.fetches == 2)
    }
}
