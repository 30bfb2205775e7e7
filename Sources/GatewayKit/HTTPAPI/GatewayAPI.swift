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
    /// Register and login attempts per address, together (one bucket: guessing passwords and making
    /// accounts draw on the same budget).
    public var authAttempts = RateLimit.perMinute(20)
    /// Whether register and login require an address proven through Tinode's e-mail validator
    /// (`GATEWAY_EMAIL_VERIFICATION`; the configuration's default is `required` in production).
    public var emailVerification = EmailVerificationMode.off
    /// Verification codes tried per address, and per client address.
    public var verifyAttempts = RateLimit(capacity: 10, perSecond: 10.0 / 3600)
    /// `EXTERNAL_JWT_ISSUER`: tokens of this issuer may be exchanged for a token pair
    /// (`POST /v1/auth/external`); nil turns the route off.
    public var externalIssuer: String?
    /// New codes requested per address (each one sends a mail).
    public var verifyResends = RateLimit(capacity: 5, perSecond: 5.0 / 3600)
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
    let provenAddresses: any ProvenAddressStore
    let rateLimiter: any RateLimiter
    let pool: TinodeSessionPool
    /// Direct reads of Tinode's MongoDB (`MONGO_URL`); nil: history through Tinode's protocol.
    let storeReads: StoreReads?
    let loginNames: LoginNameMapper
    let settings: GatewayAPISettings
    let logger: Logger

    public init(
        tokens: TokenService, backend: StoreBackend, pool: TinodeSessionPool, loginNames: LoginNameMapper,
        settings: GatewayAPISettings = .init(), storeReads: StoreReads? = nil, logger: Logger
    ) {
        self.tokens = tokens
        self.tokenStore = backend.store
        self.refreshFamilies = backend.refreshFamilies
        self.idempotency = backend.idempotency
        self.provenAddresses = backend.provenAddresses
        self.rateLimiter = backend.rateLimiter
        self.pool = pool
        self.storeReads = storeReads
        self.loginNames = loginNames
        self.settings = settings
        self.logger = logger
    }

    typealias Handler = @Sendable (GatewayAPI, Request, GatewayRequestContext) async throws -> Response

    /// Every `/v1` route, in one table so that the OpenAPI test compares the document with exactly
    /// what is served.
    static let routes: [(method: HTTPRequest.Method, path: String, handler: Handler)] = [
        (.post, "/v1/auth/register", { api, request, context in try await api.registerUser(request, context) }),
        (.post, "/v1/auth/login", { api, request, context in try await api.logIn(request, context) }),
        (.post, "/v1/auth/verify", { api, request, context in try await api.verifyEmail(request, context) }),
        (.post, "/v1/auth/verify/resend", { api, request, context in try await api.resendCode(request, context) }),
        (.post, "/v1/auth/external", { api, request, context in try await api.exchangeExternalToken(request, context) }),
        (.post, "/v1/auth/refresh", { api, request, context in try await api.refresh(request, context) }),
        (.post, "/v1/auth/logout", { api, request, context in try await api.logOut(request, context) }),
        (.get, "/v1/me", { api, request, context in try await api.me(request, context) }),
        (.post, "/v1/messages", { api, request, context in try await api.send(request, context) }),
        (.get, "/v1/messages", { api, request, context in try await api.history(request, context) }),
        (.get, "/v1/messages/stream", { api, request, context in try await api.stream(request, context) }),
        (.get, "/v1/ws", { api, request, context in try await api.webSocketRefused(request, context) }),
        (.get, "/v1/users/{user_id}", { api, request, context in try await api.user(request, context) }),
    ]

    /// The operational routes, served beside the API.
    static let operationalRoutes: Set<String> = ["GET /healthz", "GET /readyz", "GET /metrics", "GET /openapi.json"]

    /// `METHOD /path` of everything served.
    static var operations: Set<String> {
        Set(routes.map { "\($0.method.rawValue) \($0.path)" }).union(operationalRoutes)
    }

    /// Adds every `/v1` route.
    public func register(on router: Router<GatewayRequestContext>) {
        for route in Self.routes {
            let handler = route.handler
            router.on(RouterPath(route.path), method: route.method) { request, context in
                try await handler(self, request, context)
            }
        }
    }

    /// The store could not answer: logged with its cause, answered as "try again" (503), never as
    /// "invalid token", so that an outage does not look like a logout.
    func storeFailure(_ error: any Error) -> APIError {
        logger.warning("token store unavailable", metadata: ["error": "\(error)"])
        return APIError.unavailable("The token store")
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
