import Foundation

/// The verification keys an external issuer publishes at its JWKS URL, fetched on first use and kept
/// fresh.
///
/// Keys are fetched when first needed, again in the background once they are older than the refresh
/// interval (the old keys keep verifying meanwhile), and at once when a token names a `kid` we do not
/// hold, because that is how issuers rotate keys. Such forced fetches happen at most once per
/// ``minimumRefetchInterval``, so a stream of tokens with made-up `kid`s cannot turn into a stream of
/// requests to the issuer. A failed fetch keeps the keys we have.
///
/// Failures back off: after `n` failed fetches in a row, the next waits `initialBackoff · 2^(n-1)`
/// (at most `maximumBackoff`) after the last one; a forced fetch waits that long too once it is
/// longer than ``minimumRefetchInterval``. Without it, keys that went stale while the issuer was down
/// were fetched again on every verification: an outage of the issuer became a flood of requests to
/// it, and of warnings in our log.
public actor JWKSKeySource {
    /// Returns the body of the JWKS document; throws when it cannot (timeouts are the fetcher's job).
    public typealias Fetch = @Sendable () async throws -> [UInt8]

    /// Forced fetches (an unknown `kid`, no keys yet) are at least this far apart.
    public static let minimumRefetchInterval: Duration = .seconds(30)

    private let fetch: Fetch
    private let refreshInterval: Duration
    private let onFetch: @Sendable (Result<Int, any Error>) -> Void
    private var keys: [SigningKey] = []
    private var fetchedAt: ContinuousClock.Instant?
    private var attempted = false
    private var lastForcedAttempt: ContinuousClock.Instant?
    private var inFlight: Task<Void, Never>?
    private let initialBackoff: Duration
    private let maximumBackoff: Duration
    /// Failed fetches since the last success.
    private var failures = 0
    /// When the last failed fetch ended.
    private var lastFailure: ContinuousClock.Instant?

    /// - Parameters:
    ///   - refreshInterval: Age after which keys are fetched again in the background.
    ///   - initialBackoff: The wait after a first failed fetch; it doubles with each failure after.
    ///   - maximumBackoff: The longest wait between failed fetches.
    ///   - onFetch: Told the number of usable keys after each fetch, or its error (for logs).
    public init(
        refreshInterval: Duration, initialBackoff: Duration = .seconds(1), maximumBackoff: Duration = .seconds(300),
        fetch: @escaping Fetch, onFetch: @escaping @Sendable (Result<Int, any Error>) -> Void = { _ in }
    ) {
        self.refreshInterval = refreshInterval
        self.initialBackoff = initialBackoff
        self.maximumBackoff = maximumBackoff
        self.fetch = fetch
        self.onFetch = onFetch
    }

    /// The wait after the last failed fetch before another may start; zero after a success.
    var backoff: Duration {
        guard failures > 0 else { return .zero }
        // Doubling stops at the cap long before it could overflow.
        var wait = initialBackoff
        for _ in 1..<failures where wait < maximumBackoff { wait *= 2 }
        return min(wait, maximumBackoff)
    }

    private func backedOff(at now: ContinuousClock.Instant) -> Bool {
        guard let lastFailure else { return false }
        return now - lastFailure < backoff
    }

    /// The keys to verify a token with `kid` (nil: the token names none).
    ///
    /// Waits for a fetch only when we hold no key for it and a forced fetch is allowed; otherwise
    /// answers at once from what we hold.
    public func keys(for kid: String?) async -> [SigningKey] {
        let now = ContinuousClock.now
        if let fetchedAt, now - fetchedAt >= refreshInterval, !backedOff(at: now) {
            startFetch()
        }
        let held = keys.contains { kid == nil ? $0.kid == nil || keys.count == 1 : $0.kid == kid }
        if !held {
            if !attempted {
                startFetch()
            } else if lastForcedAttempt.map({ now - $0 >= Self.minimumRefetchInterval }) ?? true,
                backoff <= Self.minimumRefetchInterval || !backedOff(at: now)
            {
                lastForcedAttempt = now
                startFetch()
            }
        }
        if let inFlight, !held { await inFlight.value }
        return keys
    }

    private func startFetch() {
        guard inFlight == nil else { return }
        attempted = true
        inFlight = Task { await self.refresh() }
    }

    private func refresh() async {
        defer { inFlight = nil }
        do {
            let parsed = try await Self.parse(fetch())
            keys = parsed
            fetchedAt = .now
            failures = 0
            lastFailure = nil
            onFetch(.success(parsed.count))
        } catch {
            // Bounded: past the cap, more failures change nothing.
            failures = min(failures + 1, 64)
            lastFailure = .now
            onFetch(.failure(error))
        }
    }

    /// The signature keys of a JWKS document (`{"keys": [...]}`) that this verifier supports.
    ///
    /// Entries for encryption, other curves or other algorithms are skipped. Every key needs a `kid`,
    /// except in a set of exactly one key, which then verifies tokens that name no `kid`.
    ///
    /// - Throws: ``JWKSError`` when the document is not a key set or holds no usable key.
    public static func parse(_ body: [UInt8]) async throws -> [SigningKey] {
        guard let document = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
            let entries = document["keys"] as? [[String: Any]]
        else {
            throw JWKSError.notAKeySet
        }
        var keys: [SigningKey] = []
        for entry in entries {
            let kid = entry["kid"] as? String
            guard kid != nil || entries.count == 1 else { continue }
            guard let key = try? await SigningKey.verifier(jwk: entry, kid: kid) else { continue }
            keys.append(key)
        }
        guard !keys.isEmpty else { throw JWKSError.noUsableKey }
        return keys
    }
}

/// Why a JWKS document could not be used.
public enum JWKSError: Error, Equatable, CustomStringConvertible {
    case notAKeySet
    case noUsableKey
    case unreachable(reason: String)

    public var description: String {
        switch self {
        case .notAKeySet: "the JWKS URL did not answer with a JSON key set ({\"keys\": [...]})"
        case .noUsableKey: "the key set holds no RS256, ES256 (P-256) or EdDSA (Ed25519) signature key"
        case .unreachable(let reason): "the JWKS URL could not be fetched: \(reason)"
        }
    }
}
