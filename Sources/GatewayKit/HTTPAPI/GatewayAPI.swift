import Foundation
import Hummingbird
import Logging
import SidecarCore

/// Limits of the HTTP API.
public struct GatewayAPISettings: Sendable {
    /// Largest request body.
    public var maxBodyBytes = 65_536
    /// Longest message text, in bytes of UTF-8 (Tinode refuses whole messages over 128 KiB).
    public var maxMessageBytes = 16_384
    /// Register and login attempts per address.
    public var authAttempts = RateLimit.perMinute(20)
    /// Messages per user.
    public var sends = RateLimit(capacity: 30, perSecond: 5)
    /// How long answers to `Idempotency-Key` requests are kept.
    public var idempotencyTTL: Duration = .seconds(86_400)
    /// SSE comment lines that keep proxies from closing a quiet stream.
    public var streamHeartbeat: Duration = .seconds(15)

    public init() {}
}

/// What the API's handlers work with.
public struct GatewayAPI: Sendable {
    let tokens: TokenService
    let tokenStore: any TokenStore
    let refreshFamilies: any RefreshFamilyStore
    let idempotency: any IdempotencyStore
    let rateLimiter: any RateLimiter
    let pool: TinodeSessionPool
    let loginNames: LoginNameMapper
    let settings: GatewayAPISettings
    let logger: Logger

    public init(
        tokens: TokenService, backend: StoreBackend, pool: TinodeSessionPool, loginNames: LoginNameMapper,
        settings: GatewayAPISettings = .init(), logger: Logger
    ) {
        self.tokens = tokens
        self.tokenStore = backend.store
        self.refreshFamilies = backend.refreshFamilies
        self.idempotency = backend.idempotency
        self.rateLimiter = backend.rateLimiter
        self.pool = pool
        self.loginNames = loginNames
        self.settings = settings
        self.logger = logger
    }

    /// Adds every `/v1` route.
    public func register(on router: Router<GatewayRequestContext>) {
        let v1 = router.group("v1")
        v1.post("auth/register") { request, context in try await self.registerUser(request, context) }
        v1.post("auth/login") { request, context in try await self.logIn(request, context) }
        v1.post("auth/refresh") { request, context in try await self.refresh(request, context) }
        v1.post("auth/logout") { request, context in try await self.logOut(request, context) }
        v1.get("me") { request, context in try await self.me(request, context) }
        v1.post("messages") { request, context in try await self.send(request, context) }
        v1.get("messages") { request, context in try await self.history(request, context) }
        v1.get("messages/stream") { request, context in try await self.stream(request, context) }
    }

    /// Takes a token from a bucket; a store outage lets the request through (and is logged) rather
    /// than turning every request into an error.
    func limit(_ key: String, _ rate: RateLimit) async throws {
        do {
            if case .limited(let retryAfter) = try await rateLimiter.take(key, limit: rate) {
                throw APIError(.tooManyRequests, "rate_limited", "Too many requests; retry later.", retryAfter: retryAfter)
            }
        } catch let error as APIError {
            throw error
        } catch {
            logger.warning("rate limiter unavailable; request allowed", metadata: ["error": "\(error)"])
        }
    }
}
