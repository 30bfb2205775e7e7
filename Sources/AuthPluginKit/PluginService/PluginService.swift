import GRPCCore
import Logging
import SidecarCore
import TinodeProto

/// Tinode's `pbx.Plugin` service (tinode-protocol.md section 2): Tinode is the client and calls
/// these six unary RPCs as its `plugins` configuration says.
///
/// * `FireHose`: ``FireHosePolicies``; `CONTINUE` for everything no policy concerns.
/// * `Find`: ``FindRewriter``; `REPLACE` when the query holds a proven e-mail address, else `CONTINUE`.
///   (Never `RESPOND`, so there are no result rows whose `updated_at` could be zero.)
/// * `Account`, `Topic`, `Subscription`, `Message`: read-only notifications, answered with `Unused`;
///   each becomes a webhook (``WebhookDispatcher``). Account events link and prove nothing: their
///   `basic:` and `email:` tags say what someone typed, not what they own.
///
/// Each RPC answers at once, on the server's event loop, when it has nothing to wait for; only
/// throttled FireHose messages and searches for an e-mail address wait for Valkey, in a task
/// (``UnaryAnswer``).
public struct PluginService: Sendable {
    let policies: FireHosePolicies
    let finder: FindRewriter?
    let webhooks: WebhookDispatcher?
    let metrics: PluginMetrics
    let logger: Logger

    public init(
        settings: PluginSettings, rateLimiter: any RateLimiter, provenAddresses: any ProvenAddressStore,
        loginNames: LoginNameMapper, webhooks: WebhookDispatcher?, metrics: PluginMetrics, logger: Logger,
        tinodeRevocations: (any TinodeTokenRevocations)? = nil, tinodeTokenLifetime: Duration = .seconds(1_209_600)
    ) {
        var policies = FireHosePolicies(
            settings: settings, rateLimiter: rateLimiter, loginNames: loginNames, metrics: metrics, logger: logger)
        policies.revocations = tinodeRevocations
        policies.tokenLifetime = tinodeTokenLifetime
        self.policies = policies
        finder = settings.findEmails ? FindRewriter(loginNames: loginNames, proofs: provenAddresses) : nil
        self.webhooks = webhooks
        self.metrics = metrics
        self.logger = logger
    }

    /// The six RPCs, for ``PluginGRPCServer``.
    public var routes: [UnaryRoute] {
        [
            UnaryRoute(Pbx_Plugin.Method.FireHose.descriptor, fireHose),
            UnaryRoute(Pbx_Plugin.Method.Find.descriptor, find),
            UnaryRoute(Pbx_Plugin.Method.Account.descriptor, account),
            UnaryRoute(Pbx_Plugin.Method.Topic.descriptor, topic),
            UnaryRoute(Pbx_Plugin.Method.Subscription.descriptor, subscription),
            UnaryRoute(Pbx_Plugin.Method.Message.descriptor, message),
        ]
    }

    /// Answered on the event loop unless a `{login}` or `{acc}` must take a token from the shared
    /// rate limiter (Valkey).
    func fireHose(_ request: Pbx_ClientReq) -> UnaryAnswer<Pbx_ServerResp> {
        let started = ContinuousClock.now
        if let decision = policies.decideAtOnce(request) {
            return .now(recorded(decision, since: started))
        }
        return .later { [self] in recorded(await policies.decide(request), since: started) }
    }

    private func recorded(_ decision: FireHoseDecision, since started: ContinuousClock.Instant) -> Pbx_ServerResp {
        if let policy = decision.policy { metrics.refusedBy(policy) }
        metrics.record(rpc: "firehose", result: decision.policy == nil ? "continue" : "respond", since: started)
        return decision.response
    }

    /// Answered at once unless the query holds an e-mail address, whose proof is then looked up. When
    /// the store fails the query continues as written (counted as `error`): an unproven reading of
    /// every address, never a leak.
    func find(_ request: Pbx_SearchQuery) -> UnaryAnswer<Pbx_SearchFound> {
        let started = ContinuousClock.now
        guard let finder, finder.mentionsAddress(request.query) else {
            metrics.record(rpc: "find", result: "continue", since: started)
            return .now(Self.findContinues)
        }
        return .later { [self] in
            let rewritten: String?
            do {
                rewritten = try await finder.rewrite(request.query)
            } catch {
                metrics.record(rpc: "find", result: "error", since: started)
                logger.warning("Find: proven addresses unavailable, query left as written", metadata: ["error": "\(error)"])
                return Self.findContinues
            }
            guard let rewritten else {
                metrics.record(rpc: "find", result: "continue", since: started)
                return Self.findContinues
            }
            metrics.record(rpc: "find", result: "replace", since: started)
            logger.debug("Find: proven e-mail addresses rewritten into tags", metadata: ["user_id": "\(request.userID)"])
            return .with {
                $0.status = .replace
                $0.query = rewritten
            }
        }
    }

    private static let findContinues = Pbx_SearchFound.with { $0.status = .continue }

    func account(_ request: Pbx_AccountEvent) -> UnaryAnswer<Pbx_Unused> {
        notified(.account(request), rpc: "account")
    }

    func topic(_ request: Pbx_TopicEvent) -> UnaryAnswer<Pbx_Unused> {
        notified(.topic(request), rpc: "topic")
    }

    func subscription(_ request: Pbx_SubscriptionEvent) -> UnaryAnswer<Pbx_Unused> {
        notified(.subscription(request), rpc: "subscription")
    }

    func message(_ request: Pbx_MessageEvent) -> UnaryAnswer<Pbx_Unused> {
        notified(.message(request), rpc: "message")
    }

    /// A notification with nothing to wait for: queued as a webhook, answered at once.
    private func notified(_ event: WebhookEvent, rpc: String) -> UnaryAnswer<Pbx_Unused> {
        let started = ContinuousClock.now
        webhooks?.enqueue(event)
        metrics.record(rpc: rpc, result: "ok", since: started)
        return .now(Pbx_Unused())
    }
}
