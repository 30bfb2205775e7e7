import Foundation
import Hummingbird
import Logging
import OpenAPIHummingbird
import OpenAPIRuntime
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
    /// Password tries against one account (login, verify, resend), from all clients together, so
    /// that one address cannot be guessed from many clients (`GATEWAY_LOGIN_ATTEMPTS_PER_ACCOUNT_PER_HOUR`).
    public var accountAttempts = RateLimit(capacity: 30, perSecond: 30.0 / 3600)
    /// Who the client of a request is, for the per-client buckets (`TRUSTED_PROXIES`; none trusted
    /// by default: the socket's peer is the client).
    public var clientAddresses = ClientAddressResolver()
    /// Verification codes tried per address, and per client address.
    public var verifyAttempts = RateLimit(capacity: 10, perSecond: 10.0 / 3600)
    /// `EXTERNAL_JWT_ISSUER`: tokens of this issuer may be exchanged for a token pair
    /// (`POST /v1/auth/external`); nil turns the route off.
    public var externalIssuer: String?
    /// Refreshes per login (five times as many per user).
    public var refreshes = RateLimit.perMinute(10)
    /// How long the access token a refresh replaces keeps working.
    public var refreshGrace: Duration = .seconds(10)
    /// Tinode's token lifetime (`TINODE_TOKEN_LIFETIME_SECONDS`): a refresh renews the user's
    /// Tinode token once less than half of it is left.
    public var tinodeTokenLifetime: Duration = .seconds(1_209_600)
    /// How long a refresh token just rotated answers the same new pair again (a retry).
    public var refreshRetryWindow: Duration = .seconds(5)
    /// How often a live stream checks that its access token still works.
    public var streamRecheckInterval: Duration = .seconds(30)
    /// New codes requested per address (each one sends a mail).
    public var verifyResends = RateLimit(capacity: 5, perSecond: 5.0 / 3600)
    /// Messages per user.
    public var sends = RateLimit(capacity: 30, perSecond: 5)
    /// How long answers to `Idempotency-Key` requests are kept.
    public var idempotencyTTL: Duration = .seconds(86_400)
    /// SSE comment lines that keep proxies from closing a quiet stream.
    public var streamHeartbeat: Duration = .seconds(15)
    /// Most messages a resuming live client is sent from history (`GATEWAY_MAX_REPLAY`); beyond it
    /// the stream starts with a `reset` and only the newest this many.
    public var maxReplay = 1000
    /// Live streams (SSE and WebSocket together) a user may hold open on this instance
    /// (`GATEWAY_MAX_STREAMS_PER_USER`); beyond it 429 `too_many_streams`.
    public var maxStreamsPerUser = 8

    public init() {}
}

/// What the API's handlers work with.
public struct GatewayAPI: Sendable {
    let tokens: TokenService
    /// Bearer tokens and their records, remembered per token (``authenticate(authorization:bearerToken:)``).
    let accessTokens: AccessTokenAuthenticator
    let tokenStore: any TokenStore
    let refreshFamilies: any RefreshFamilyStore
    let idempotency: any IdempotencyStore
    let provenAddresses: any ProvenAddressStore
    let tinodeRevocations: any TinodeTokenRevocations
    let rateLimiter: any RateLimiter
    let pool: TinodeSessionPool
    /// Direct reads of Tinode's MongoDB (`MONGO_URL`); nil: history through Tinode's protocol.
    let storeReads: StoreReads?
    let loginNames: LoginNameMapper
    let settings: GatewayAPISettings
    let logger: Logger
    /// Each user's open live streams on this instance (`maxStreamsPerUser`).
    let liveStreams = StreamQuota()
    /// The tokens of this instance's open live streams, which revocations end.
    let streamTokens = StreamAuthorizations()
    /// Revocations told to, and heard from, every instance.
    let revocationNotices: any RevocationNotices

    public init(
        tokens: TokenService, backend: StoreBackend, pool: TinodeSessionPool, loginNames: LoginNameMapper,
        settings: GatewayAPISettings = .init(), storeReads: StoreReads? = nil, logger: Logger
    ) {
        self.tokens = tokens
        self.accessTokens = AccessTokenAuthenticator(tokens: tokens, store: backend.store)
        self.tokenStore = backend.store
        self.refreshFamilies = backend.refreshFamilies
        self.idempotency = backend.idempotency
        self.provenAddresses = backend.provenAddresses
        self.tinodeRevocations = backend.tinodeRevocations
        self.revocationNotices = backend.revocationNotices
        self.rateLimiter = backend.rateLimiter
        self.pool = pool
        self.storeReads = storeReads
        self.loginNames = loginNames
        self.settings = settings
        self.logger = logger
    }

    typealias Handler = @Sendable (GatewayAPI, Request, GatewayRequestContext) async throws -> Response

    /// The `/v1` routes served beside the generated ones (`openapi/openapi-generator-config.yaml`
    /// says why): the live streams.
    static let streamRoutes: [(method: HTTPRequest.Method, path: String, handler: Handler)] = [
        (.get, "/v1/messages/stream", { api, request, context in try await api.stream(request, context) }),
        (.get, "/v1/ws", { api, request, context in try await api.webSocketRefused(request, context) }),
    ]

    /// The operational routes, served beside the API (`/metrics` has a listener of its own).
    static let operationalRoutes: Set<String> = ["GET /healthz", "GET /readyz", "GET /openapi.json"]

    /// `METHOD /path` of everything served, so that the OpenAPI test compares the document with
    /// exactly that.
    static var operations: Set<String> {
        let recorder = RouteRecorder()
        // Recording cannot fail: the generated code only registers.
        try? GatewayHandlers(accounts: Unserved(), messaging: Unserved()).registerHandlers(on: recorder)
        return recorder.routes.union(streamRoutes.map { "\($0.method.rawValue) \($0.path)" }).union(operationalRoutes)
    }

    /// Adds every `/v1` route: the generated operations (``GatewayHandlers``, behind the contract's
    /// middlewares) and the live streams.
    public func register(on router: Router<GatewayRequestContext>) throws {
        let rules = ContractRules.gateway
        let api = router.group()
            .add(middleware: ContractErrors<GatewayRequestContext>())
            .add(middleware: RequestOriginMiddleware(resolver: settings.clientAddresses))
        try GatewayHandlers(accounts: self, messaging: self).registerHandlers(
            on: api, configuration: GatewayHandlers.configuration,
            middlewares: [
                BearerAuthentication(rules: rules) { authorization in try await self.authenticate(authorization: authorization) },
                JSONRequestRules(rules: rules, maxBytes: settings.maxBodyBytes),
                RequiredNullFields(rules: rules),
            ])
        for route in Self.streamRoutes {
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

    /// Takes a token from a bucket (429 `rate_limited` when it is empty).
    ///
    /// When the store cannot answer, `failClosed` decides. Register, login, verify, resend and the
    /// external exchange fail closed (503 `service_unavailable` for every attempt): open, they would
    /// allow unlimited guessing during an outage, and login would still tell a right password (503
    /// when the refresh family cannot be written) from a wrong one (401). Sends stay open, as they
    /// always were: the sender is authenticated already, Tinode limits what it accepts, and an
    /// outage of the limiter should not stop a chat that otherwise works. Both cases are logged.
    func limit(_ key: String, _ rate: RateLimit, failClosed: Bool = false) async throws {
        do {
            if case .limited(let retryAfter) = try await rateLimiter.take(key, limit: rate) {
                throw APIError.rateLimited(retryAfter: retryAfter)
            }
        } catch let error as APIError {
            throw error
        } catch {
            guard failClosed else {
                logger.warning("rate limiter unavailable; request allowed", metadata: ["error": "\(error)"])
                return
            }
            logger.warning("rate limiter unavailable; request refused", metadata: ["error": "\(error)"])
            // An outage of the store seldom ends within a second; a few seconds spare it a flood of retries.
            throw APIError.unavailable("The rate limiter", retryAfter: .seconds(5))
        }
    }
}
