import Metrics

/// The plugin service's counters, timers and gauges, made once (a metric per call would cost a
/// registry lookup under a lock on Tinode's hot path).
///
/// * `authplugin_plugin_calls_total{rpc, result}` and `authplugin_plugin_call_duration_seconds{rpc}`:
///   every RPC; `result` is `continue`, `respond`, `replace`, `drop` (FireHose, Find) or `ok`, `error`.
/// * `authplugin_plugin_policy_total{policy}`: FireHose refusals by `throttle`, `size`, `canonical`.
/// * `authplugin_plugin_throttle_errors_total`: throttle checks that could not reach the store
///   (the message was let through).
/// * `authplugin_plugin_refused_total`: calls from outside `AUTHPLUGIN_ALLOWED_NETWORKS`.
/// * `authplugin_plugin_connections_cut_total{reason}`: plugin-port connections the server ended
///   because the peer misbehaved; `reason` is `control_frame_flood` (more PING/SETTINGS/PRIORITY
///   frames than its answers and the allowance cover: `ControlFramePolicer`), `reset_flood` (NIO's
///   limit on RST_STREAM frames: rapid reset), `protocol_abuse` (NIO's other limits: stream errors,
///   empty DATA, CONTINUATION frames), `refused_caller` (closed after a call from outside
///   `AUTHPLUGIN_ALLOWED_NETWORKS`) or `connection_limit` (closed at once: the port had
///   `AUTHPLUGIN_GRPC_MAX_CONNECTIONS` open, or its share for outside peers).
/// * `authplugin_plugin_streams_refused_total`: streams reset with `REFUSED_STREAM` because their
///   connection already had `AUTHPLUGIN_GRPC_MAX_STREAMS` calls in progress.
/// * `authplugin_webhook_queue_depth`, `authplugin_webhook_deliveries_total`,
///   `authplugin_webhook_retries_total`, `authplugin_webhook_failures_total` (given up),
///   `authplugin_webhook_dropped_total` (queue full), `authplugin_webhook_delivery_duration_seconds`.
public struct PluginMetrics: Sendable {
    /// The six RPCs, as labels.
    public static let rpcs = ["firehose", "find", "account", "topic", "subscription", "message"]
    static let results = ["continue", "respond", "replace", "drop", "ok", "error"]
    static let policies = ["throttle", "size", "canonical"]

    /// By RPC, then result: no key is built per call.
    private let calls: [String: [String: Counter]]
    private let durations: [String: Timer]
    private let policyRefusals: [String: Counter]
    let throttleErrors = Counter(label: "authplugin_plugin_throttle_errors_total")
    let refused = Counter(label: "authplugin_plugin_refused_total")
    let controlFrameFloods = Counter(label: "authplugin_plugin_connections_cut_total", dimensions: [("reason", "control_frame_flood")])
    let connectionLimitCuts = Counter(label: "authplugin_plugin_connections_cut_total", dimensions: [("reason", "connection_limit")])
    /// By ``PluginConnectionGuard/CutReason``.
    private let guardCuts: [PluginConnectionGuard.CutReason: Counter] = Dictionary(
        uniqueKeysWithValues: PluginConnectionGuard.CutReason.allCases.map {
            ($0, Counter(label: "authplugin_plugin_connections_cut_total", dimensions: [("reason", $0.rawValue)]))
        })
    let refusedStreams = Counter(label: "authplugin_plugin_streams_refused_total")
    let webhookQueueDepth = Gauge(label: "authplugin_webhook_queue_depth")
    let webhookDeliveries = Counter(label: "authplugin_webhook_deliveries_total")
    let webhookRetries = Counter(label: "authplugin_webhook_retries_total")
    let webhookFailures = Counter(label: "authplugin_webhook_failures_total")
    let webhookDropped = Counter(label: "authplugin_webhook_dropped_total")
    let webhookDuration = Timer(label: "authplugin_webhook_delivery_duration_seconds")

    public init() {
        var calls: [String: [String: Counter]] = [:]
        var durations: [String: Timer] = [:]
        for rpc in Self.rpcs {
            durations[rpc] = Timer(label: "authplugin_plugin_call_duration_seconds", dimensions: [("rpc", rpc)])
            for result in Self.results {
                calls[rpc, default: [:]][result] = Counter(
                    label: "authplugin_plugin_calls_total", dimensions: [("rpc", rpc), ("result", result)])
            }
        }
        self.calls = calls
        self.durations = durations
        policyRefusals = Dictionary(
            uniqueKeysWithValues: Self.policies.map {
                ($0, Counter(label: "authplugin_plugin_policy_total", dimensions: [("policy", $0)]))
            })
    }

    func record(rpc: String, result: String, since start: ContinuousClock.Instant) {
        calls[rpc]?[result]?.increment()
        durations[rpc]?.recordInterval(since: start)
    }

    func refusedBy(_ policy: FireHosePolicy) {
        policyRefusals[policy.rawValue]?.increment()
    }

    /// A plugin-port connection its guard ended early.
    func cut(_ reason: PluginConnectionGuard.CutReason) {
        guardCuts[reason]?.increment()
    }
}
