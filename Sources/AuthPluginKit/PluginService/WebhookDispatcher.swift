import AsyncHTTPClient
import Atomics
import Crypto
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import SidecarCore

/// Delivers plugin events as signed webhooks, in a `Service` of its own.
///
/// The plugin RPCs only `enqueue` (Tinode gets its answer at once); `PLUGIN_WEBHOOK_CONCURRENCY`
/// workers POST each event to each URL:
///
/// * body: the event's JSON (``WebhookEvent``), `Content-Type: application/json`;
/// * `X-Signature: sha256=<hex>`: lower-case hex of HMAC-SHA256 over the exact body bytes, keyed
///   with `PLUGIN_WEBHOOK_SECRET`; `X-Webhook-Id` (the event's id, the same on every attempt),
///   `X-Webhook-Event` (`message.create`, ...) and `X-Webhook-Attempt` (1, 2, ...);
/// * any 2xx is delivered; network errors, timeouts, 408, 429 and 5xx are retried after
///   `PLUGIN_WEBHOOK_BACKOFF_MS`, doubled per retry (at most 30 s, ±20% jitter), up to
///   `PLUGIN_WEBHOOK_MAX_ATTEMPTS` attempts; other statuses are not retried. Redirects are not followed.
///
/// On graceful shutdown no new retries start; what is queued gets one more attempt each, for at
/// most `drainLimit`; what is left after that is logged as lost.
public final class WebhookDispatcher: Service, Sendable {
    let settings: WebhookSettings
    let queue: WebhookQueue
    private let metrics: PluginMetrics
    private let logger: Logger
    private let client: HTTPClient
    private let key: SymmetricKey
    private let stopping = ManagedAtomic(false)
    private let counts = (
        delivered: ManagedAtomic(0), retried: ManagedAtomic(0), failed: ManagedAtomic(0), dropped: ManagedAtomic(0)
    )
    /// How long queued deliveries may still go out after graceful shutdown began.
    let drainLimit: Duration

    public init(settings: WebhookSettings, metrics: PluginMetrics, logger: Logger, drainLimit: Duration? = nil) {
        self.settings = settings
        self.queue = WebhookQueue(capacity: settings.queueSize)
        self.metrics = metrics
        self.logger = logger
        self.key = SymmetricKey(data: settings.secret.bytes)
        self.drainLimit = drainLimit ?? settings.timeout + .seconds(1)
        let timeout = TimeAmount.nanoseconds(Int64(settings.timeout.seconds * 1e9))
        client = HTTPClient(
            eventLoopGroupProvider: .singleton,
            configuration: .init(
                redirectConfiguration: .disallow,
                timeout: .init(connect: timeout, read: timeout)))
    }

    /// Queues `event` for every URL; never waits. A full queue drops its oldest delivery (counted).
    func enqueue(_ event: WebhookEvent) {
        for url in settings.urls {
            let dropped = queue.push(WebhookDelivery(event: event, url: url))
            if dropped > 0 {
                metrics.webhookDropped.increment(by: dropped)
                counts.dropped.wrappingIncrement(by: dropped, ordering: .relaxed)
                logger.warning("webhook queue full: oldest delivery dropped", metadata: ["capacity": "\(queue.capacity)"])
            }
        }
        metrics.webhookQueueDepth.record(queue.depth)
    }

    /// What this dispatcher has done so far (the same figures as its metrics, for this instance).
    public struct Statistics: Sendable, Equatable {
        /// Deliveries answered 2xx.
        public var delivered: Int
        /// Attempts that failed and were tried again.
        public var retried: Int
        /// Deliveries given up (attempts exhausted, or a status that is not retried).
        public var failed: Int
        /// Deliveries dropped from a full queue, or still queued at shutdown.
        public var dropped: Int
        /// Deliveries waiting now.
        public var queued: Int
    }

    public var statistics: Statistics {
        Statistics(
            delivered: counts.delivered.load(ordering: .relaxed), retried: counts.retried.load(ordering: .relaxed),
            failed: counts.failed.load(ordering: .relaxed), dropped: counts.dropped.load(ordering: .relaxed), queued: queue.depth)
    }

    /// `sha256=<hex>` for `body`: the `X-Signature` value.
    public static func signature(of body: Data, secret: SecretBytes) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: secret.bytes))
        return "sha256=" + mac.map { String(format: "%02x", $0) }.joined()
    }

    private enum Member: Sendable {
        case worker
        case drainDeadline
    }

    public func run() async throws {
        await withTaskGroup(of: Member.self) { group in
            for _ in 0..<settings.concurrency {
                group.addTask {
                    await self.work()
                    return .worker
                }
            }
            group.addTask {
                // Returns at graceful shutdown (or throws when cancelled: stop at once).
                try? await gracefulShutdown()
                self.stopping.store(true, ordering: .relaxed)
                self.queue.finish()
                try? await Task.sleep(for: self.drainLimit)
                return .drainDeadline
            }
            var workersLeft = settings.concurrency
            while let member = await group.next() {
                switch member {
                case .worker:
                    workersLeft -= 1
                    if workersLeft == 0 { group.cancelAll() }
                case .drainDeadline:
                    group.cancelAll()
                }
            }
        }
        let lost = queue.depth
        if lost > 0 {
            metrics.webhookDropped.increment(by: lost)
            counts.dropped.wrappingIncrement(by: lost, ordering: .relaxed)
            logger.warning("webhook deliveries lost at shutdown", metadata: ["count": "\(lost)"])
        }
        metrics.webhookQueueDepth.record(0)
        try? await client.shutdown()
    }

    private func work() async {
        while let delivery = await queue.next() {
            metrics.webhookQueueDepth.record(queue.depth)
            await deliver(delivery)
        }
    }

    private enum Attempt {
        case delivered
        case retryable(String)
        case refused(UInt)
    }

    private func deliver(_ delivery: WebhookDelivery) async {
        var attempt = 1
        while true {
            let started = ContinuousClock.now
            let outcome = await post(delivery, attempt: attempt)
            metrics.webhookDuration.recordInterval(since: started)
            switch outcome {
            case .delivered:
                metrics.webhookDeliveries.increment()
                counts.delivered.wrappingIncrement(ordering: .relaxed)
                return
            case .refused(let status):
                metrics.webhookFailures.increment()
                counts.failed.wrappingIncrement(ordering: .relaxed)
                logger.warning(
                    "webhook refused, not retried",
                    metadata: metadata(delivery, ["status": "\(status)", "attempt": "\(attempt)"]))
                return
            case .retryable(let reason):
                if attempt >= settings.maxAttempts || stopping.load(ordering: .relaxed) || Task.isCancelled {
                    metrics.webhookFailures.increment()
                    counts.failed.wrappingIncrement(ordering: .relaxed)
                    logger.warning(
                        "webhook failed, giving up", metadata: metadata(delivery, ["reason": "\(reason)", "attempts": "\(attempt)"]))
                    return
                }
                metrics.webhookRetries.increment()
                counts.retried.wrappingIncrement(ordering: .relaxed)
                logger.info("webhook failed, will retry", metadata: metadata(delivery, ["reason": "\(reason)", "attempt": "\(attempt)"]))
                let wait = backoff(afterAttempt: attempt)
                // Graceful shutdown ends the wait: no new retries start then.
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }
                attempt += 1
            }
        }
    }

    /// The wait after attempt `attempt` (1-based): initial × 2^(attempt-1), capped, ±20%.
    func backoff(afterAttempt attempt: Int) -> Duration {
        let base = settings.initialBackoff.seconds * pow(2, Double(min(attempt - 1, 30)))
        let capped = min(base, settings.maximumBackoff.seconds)
        return .milliseconds(Int64(capped * Double.random(in: 0.8...1.2) * 1000))
    }

    private func post(_ delivery: WebhookDelivery, attempt: Int) async -> Attempt {
        var request = HTTPClientRequest(url: delivery.url.absoluteString)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "tinode-sidecar-authplugin")
        request.headers.add(name: "X-Signature", value: Self.signature(of: delivery.event.body, key: key))
        request.headers.add(name: "X-Webhook-Id", value: delivery.event.id)
        request.headers.add(name: "X-Webhook-Event", value: "\(delivery.event.type).\(delivery.event.action)")
        request.headers.add(name: "X-Webhook-Attempt", value: String(attempt))
        request.body = .bytes(ByteBuffer(bytes: delivery.event.body))
        let prepared = request
        let client = self.client
        let timeout = settings.timeout
        // One deadline for the whole exchange, the answer's body included.
        let result = await withDeadline(timeout) { () -> Result<UInt, any Error> in
            do {
                let response = try await client.execute(prepared, timeout: .nanoseconds(Int64(timeout.seconds * 1e9)))
                _ = try? await response.body.collect(upTo: 64 * 1024)
                return .success(response.status.code)
            } catch {
                return .failure(error)
            }
        }
        switch result {
        case nil:
            return .retryable("timed out after \(timeout)")
        case .failure(let error):
            return .retryable("\(error)")
        case .success(let status) where (200..<300).contains(status):
            return .delivered
        case .success(let status) where status == 408 || status == 429 || status >= 500:
            return .retryable("HTTP \(status)")
        case .success(let status):
            return .refused(status)
        }
    }

    private static func signature(of body: Data, key: SymmetricKey) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: key)
        return "sha256=" + mac.map { String(format: "%02x", $0) }.joined()
    }

    /// Log metadata naming the event and the URL's host, never the URL's query or the body.
    private func metadata(_ delivery: WebhookDelivery, _ extra: Logger.Metadata) -> Logger.Metadata {
        var metadata = extra
        metadata["event_id"] = "\(delivery.event.id)"
        metadata["event"] = "\(delivery.event.type).\(delivery.event.action)"
        metadata["host"] = "\(delivery.url.host ?? "")"
        return metadata
    }
}
