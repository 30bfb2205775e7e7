import GRPCCore
import Logging
import SidecarCore
import TinodeProto

/// Tinode's `pbx.Plugin` service (tinode-protocol.md section 2): Tinode is the client and calls
/// these six unary RPCs as its `plugins` configuration says.
///
/// * `FireHose`: ``FireHosePolicies``; `CONTINUE` for everything no policy concerns.
/// * `Find`: ``FindRewriter``; `REPLACE` when the query holds an e-mail address, else `CONTINUE`.
///   (Never `RESPOND`, so there are no result rows whose `updated_at` could be zero.)
/// * `Account`, `Topic`, `Subscription`, `Message`: read-only notifications, answered at once with
///   `Unused`; each becomes a webhook (``WebhookDispatcher``) and Account events also record the
///   uid <-> e-mail link (``AccountLinks``).
public struct PluginService: Pbx_Plugin.SimpleServiceProtocol {
    let policies: FireHosePolicies
    let finder: FindRewriter?
    let links: AccountLinks
    let webhooks: WebhookDispatcher?
    let metrics: PluginMetrics
    let logger: Logger

    public init(
        settings: PluginSettings, rateLimiter: any RateLimiter, identityLinks: any IdentityLinkStore,
        loginNames: LoginNameMapper, webhooks: WebhookDispatcher?, metrics: PluginMetrics, logger: Logger
    ) {
        let registrations = PendingRegistrations()
        policies = FireHosePolicies(
            settings: settings, rateLimiter: rateLimiter, loginNames: loginNames, registrations: registrations,
            metrics: metrics, logger: logger)
        finder = settings.findEmails ? FindRewriter(loginNames: loginNames) : nil
        links = AccountLinks(store: identityLinks, registrations: registrations, metrics: metrics, logger: logger)
        self.webhooks = webhooks
        self.metrics = metrics
        self.logger = logger
    }

    public func fireHose(request: Pbx_ClientReq, context: ServerContext) async throws -> Pbx_ServerResp {
        let started = ContinuousClock.now
        let (response, policy) = await policies.decide(request)
        if let policy { metrics.refusedBy(policy) }
        metrics.record(rpc: "firehose", result: policy == nil ? "continue" : "respond", since: started)
        return response
    }

    public func find(request: Pbx_SearchQuery, context: ServerContext) async throws -> Pbx_SearchFound {
        let started = ContinuousClock.now
        guard let rewritten = finder?.rewrite(request.query) else {
            metrics.record(rpc: "find", result: "continue", since: started)
            return .with { $0.status = .continue }
        }
        metrics.record(rpc: "find", result: "replace", since: started)
        logger.debug("Find: e-mail addresses rewritten into tags", metadata: ["user_id": "\(request.userID)"])
        return .with {
            $0.status = .replace
            $0.query = rewritten
        }
    }

    public func account(request: Pbx_AccountEvent, context: ServerContext) async throws -> Pbx_Unused {
        let started = ContinuousClock.now
        webhooks?.enqueue(.account(request))
        await links.record(request)
        metrics.record(rpc: "account", result: "ok", since: started)
        return Pbx_Unused()
    }

    public func topic(request: Pbx_TopicEvent, context: ServerContext) async throws -> Pbx_Unused {
        let started = ContinuousClock.now
        webhooks?.enqueue(.topic(request))
        metrics.record(rpc: "topic", result: "ok", since: started)
        return Pbx_Unused()
    }

    public func subscription(request: Pbx_SubscriptionEvent, context: ServerContext) async throws -> Pbx_Unused {
        let started = ContinuousClock.now
        webhooks?.enqueue(.subscription(request))
        metrics.record(rpc: "subscription", result: "ok", since: started)
        return Pbx_Unused()
    }

    public func message(request: Pbx_MessageEvent, context: ServerContext) async throws -> Pbx_Unused {
        let started = ContinuousClock.now
        webhooks?.enqueue(.message(request))
        metrics.record(rpc: "message", result: "ok", since: started)
        return Pbx_Unused()
    }
}
