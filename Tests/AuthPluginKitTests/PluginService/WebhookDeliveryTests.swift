import AuthPluginKit
import Crypto
import Foundation
import GRPCCore
import SidecarCore
import SidecarServer
import TestSupport
import Testing
import TinodeProto

@Suite("Plugin events delivered as signed webhooks to a real HTTP receiver", .serialized)
struct WebhookDeliveryTests {
    static let secret = "webhook-secret-for-tests-0123456789abcdef"

    static func environment(port: Int, _ extra: [String: String] = [:]) throws -> [String: String] {
        pluginEnvironment(
            valkeyURL: try testValkeyURL(),
            ["PLUGIN_WEBHOOK_URLS": "http://127.0.0.1:\(port)/hook", "PLUGIN_WEBHOOK_SECRET": secret].merging(extra) { _, new in new })
    }

    /// Computed here independently of the dispatcher: `sha256=` + hex(HMAC-SHA256(secret, body)).
    static func expectedSignature(_ body: Data) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data(secret.utf8)))
        return "sha256=" + mac.map { String(format: "%02x", $0) }.joined()
    }

    @Test("each event type arrives once as JSON, with a valid X-Signature and its headers")
    func signedEvents() async throws {
        try await WebhookReceiver.run { receiver, port in
            try await withPluginServer(try Self.environment(port: port)) { (harness: PluginHarness) async throws in
                _ = try await harness.plugin.account(
                    .with {
                        $0.action = .create
                        $0.userID = "usrFrank000001"
                        $0.public = Data(#"{"fn":"Frank"}"#.utf8)
                        $0.tags = ["basic:frank_ex_12345678"]
                        $0.defaultAcs = .with {
                            $0.auth = "JRWPAS"; $0.anon = "N"
                        }
                    })
                _ = try await harness.plugin.topic(
                    .with {
                        $0.action = .update
                        $0.name = "grpChat0000001"
                        $0.desc = .with {
                            $0.createdAt = 1_764_400_000_000; $0.seqID = 9; $0.public = Data(#"{"fn":"general"}"#.utf8)
                        }
                    })
                _ = try await harness.plugin.subscription(
                    .with {
                        $0.action = .delete
                        $0.topic = "grpChat0000001"
                        $0.userID = "usrFrank000001"
                        $0.mode = .with {
                            $0.want = "JRWP"; $0.given = "JRWP"
                        }
                    })
                _ = try await harness.plugin.message(
                    .with {
                        $0.action = .create
                        $0.msg = .with {
                            $0.topic = "grpChat0000001"
                            $0.fromUserID = "usrFrank000001"
                            $0.seqID = 10
                            $0.timestamp = 1_764_400_000_123
                            $0.head = ["mime": Data(#""text/x-drafty""#.utf8)]
                            $0.content = Data(#"{"txt":"hello"}"#.utf8)
                        }
                    })
                let received = await receiver.wait { $0.count >= 4 }
                try #require(received.count == 4, "got \(received.count) webhooks")
                for webhook in received {
                    #expect(webhook.header("X-Signature") == Self.expectedSignature(webhook.body))
                    #expect(webhook.header("Content-Type") == "application/json")
                    #expect(webhook.header("X-Webhook-Attempt") == "1")
                    let json = try #require(webhook.json)
                    #expect(webhook.header("X-Webhook-Id") == json["id"] as? String)
                    #expect(webhook.header("X-Webhook-Event") == "\(json["type"] as? String ?? "").\(json["action"] as? String ?? "")")
                    #expect((json["id"] as? String)?.count == 32)
                    #expect(json["received_at"] is NSNumber)
                }
                let byType = Dictionary(
                    uniqueKeysWithValues: try received.map { (try #require($0.json?["type"] as? String), try #require($0.json)) })
                let account = try #require(byType["account"]?["data"] as? [String: Any])
                #expect(byType["account"]?["action"] as? String == "create")
                #expect(account["user_id"] as? String == "usrFrank000001")
                #expect((account["public"] as? [String: Any])?["fn"] as? String == "Frank")
                #expect(account["tags"] as? [String] == ["basic:frank_ex_12345678"])
                #expect((account["default_acs"] as? [String: String]) == ["auth": "JRWPAS", "anon": "N"])
                let topic = try #require(byType["topic"]?["data"] as? [String: Any])
                #expect(byType["topic"]?["action"] as? String == "update")
                #expect(topic["topic"] as? String == "grpChat0000001")
                let desc = try #require(topic["desc"] as? [String: Any])
                #expect((desc["seq_id"] as? NSNumber)?.intValue == 9)
                #expect((desc["created_at"] as? NSNumber)?.int64Value == 1_764_400_000_000)
                #expect((desc["public"] as? [String: Any])?["fn"] as? String == "general")
                let subscription = try #require(byType["subscription"]?["data"] as? [String: Any])
                #expect(byType["subscription"]?["action"] as? String == "delete")
                #expect((subscription["mode"] as? [String: String]) == ["want": "JRWP", "given": "JRWP"])
                let message = try #require(byType["message"]?["data"] as? [String: Any])
                #expect(message["from_user_id"] as? String == "usrFrank000001")
                #expect((message["seq_id"] as? NSNumber)?.intValue == 10)
                #expect((message["timestamp"] as? NSNumber)?.int64Value == 1_764_400_000_123)
                #expect((message["head"] as? [String: String]) == ["mime": "text/x-drafty"])
                #expect((message["content"] as? [String: String]) == ["txt": "hello"])
                // The receiver records a request before its answer reaches the dispatcher.
                let dispatcher = try #require(harness.components.webhooks)
                for _ in 0..<500 where dispatcher.statistics.delivered < 4 { try await Task.sleep(for: .milliseconds(10)) }
                #expect(dispatcher.statistics.delivered == 4)
            }
        }
    }

    @Test("a 500 is retried with the same event id and signature until delivered")
    func retriesAfterServerError() async throws {
        try await WebhookReceiver.run(respond: { _, index in index == 0 ? .internalServerError : .ok }) { receiver, port in
            let env = try Self.environment(port: port, ["PLUGIN_WEBHOOK_BACKOFF_MS": "50"])
            try await withPluginServer(env) { (harness: PluginHarness) async throws in
                _ = try await harness.plugin.message(
                    .with {
                        $0.action = .create; $0.msg = .with { $0.seqID = 1 }
                    })
                let received = await receiver.wait { $0.count >= 2 }
                try #require(received.count == 2)
                #expect(received[0].header("X-Webhook-Id") == received[1].header("X-Webhook-Id"))
                #expect(received[0].body == received[1].body)
                #expect(received[0].header("X-Webhook-Attempt") == "1")
                #expect(received[1].header("X-Webhook-Attempt") == "2")
                #expect(received[1].header("X-Signature") == Self.expectedSignature(received[1].body))
                let statistics = await Self.statistics(of: try #require(harness.components.webhooks)) { $0.delivered == 1 }
                #expect(statistics.delivered == 1 && statistics.retried == 1 && statistics.failed == 0)
            }
        }
    }

    @Test("a 400 is not retried and is counted as a failure")
    func clientErrorNotRetried() async throws {
        try await WebhookReceiver.run(respond: { _, _ in .badRequest }) { receiver, port in
            let env = try Self.environment(port: port, ["PLUGIN_WEBHOOK_BACKOFF_MS": "20"])
            try await withPluginServer(env) { (harness: PluginHarness) async throws in
                _ = try await harness.plugin.topic(
                    .with {
                        $0.action = .create; $0.name = "grpX"
                    })
                _ = await receiver.wait { $0.count >= 1 }
                let dispatcher = try #require(harness.components.webhooks)
                for _ in 0..<200 where dispatcher.statistics.failed == 0 { try await Task.sleep(for: .milliseconds(10)) }
                // Time for a retry that must not come.
                try await Task.sleep(for: .milliseconds(300))
                #expect(receiver.requests.count == 1)
                #expect(dispatcher.statistics.failed == 1 && dispatcher.statistics.retried == 0)
            }
        }
    }

    @Test("1,000 events sent as fast as Tinode can: every one delivered, nothing dropped")
    func nothingLost() async throws {
        try await WebhookReceiver.run { receiver, port in
            try await withPluginServer(try Self.environment(port: port)) { (harness: PluginHarness) async throws in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for worker in 0..<20 {
                        group.addTask {
                            for index in stride(from: worker + 1, through: 1000, by: 20) {
                                _ = try await harness.plugin.message(
                                    .with {
                                        $0.action = .create
                                        $0.msg = .with {
                                            $0.topic = "grpChat0000001"; $0.seqID = Int32(index)
                                        }
                                    })
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                let received = await receiver.wait(timeout: .seconds(120)) { $0.count >= 1000 }
                let seqIDs = Set(received.compactMap { (($0.json?["data"] as? [String: Any])?["seq_id"] as? NSNumber)?.intValue })
                #expect(seqIDs == Set(1...1000))
                #expect(Set(received.compactMap { $0.header("X-Webhook-Id") }).count == 1000)
                let statistics = await Self.statistics(of: try #require(harness.components.webhooks)) { $0.delivered == 1000 }
                #expect(statistics.dropped == 0)
                #expect(statistics.delivered == 1000)
            }
        }
    }

    @Test("with the receiver down and the queue full, the oldest deliveries are dropped and counted")
    func dropsCounted() async throws {
        let deadPort = try freeLoopbackPort()
        let env = try Self.environment(
            port: deadPort,
            [
                "PLUGIN_WEBHOOK_QUEUE_SIZE": "5", "PLUGIN_WEBHOOK_CONCURRENCY": "1", "PLUGIN_WEBHOOK_MAX_ATTEMPTS": "50",
                "PLUGIN_WEBHOOK_BACKOFF_MS": "60000", "PLUGIN_WEBHOOK_TIMEOUT_MS": "500",
            ])
        var buffer: [UInt8] = []
        Observability.registry.emit(into: &buffer)
        let droppedBefore = Self.metricValue("authplugin_webhook_dropped_total", in: buffer)
        try await withPluginServer(env) { (harness: PluginHarness) async throws in
            let dispatcher = try #require(harness.components.webhooks)
            for index in 1...20 {
                _ = try await harness.plugin.message(
                    .with {
                        $0.action = .create; $0.msg = .with { $0.seqID = Int32(index) }
                    })
            }
            // One delivery is with the worker (waiting to retry), five wait in the queue, the rest were dropped.
            for _ in 0..<500 where dispatcher.statistics.queued != 5 || dispatcher.statistics.dropped != 14 {
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(dispatcher.statistics.queued == 5)
            #expect(dispatcher.statistics.dropped == 14)
            #expect(dispatcher.statistics.delivered == 0)
        }
        buffer = []
        Observability.registry.emit(into: &buffer)
        #expect(Self.metricValue("authplugin_webhook_dropped_total", in: buffer) - droppedBefore >= 14)
    }

    @Test("graceful shutdown delivers what is still queued (receiver up) before the service ends")
    func drainedAtShutdown() async throws {
        // Each answer takes 100 ms and there is one worker: most deliveries are still queued at shutdown.
        try await WebhookReceiver.run(respond: { _, _ in
            try? await Task.sleep(for: .milliseconds(100))
            return .ok
        }) { receiver, port in
            let env = try Self.environment(port: port, ["PLUGIN_WEBHOOK_CONCURRENCY": "1"])
            try await withPluginServer(env) { (harness: PluginHarness) async throws in
                for index in 1...8 {
                    _ = try await harness.plugin.message(
                        .with {
                            $0.action = .create; $0.msg = .with { $0.seqID = Int32(index) }
                        })
                }
                #expect(try #require(harness.components.webhooks).statistics.queued > 0)
            }
            // withPluginServer returned: the service group, dispatcher included, has stopped.
            let seqIDs = receiver.requests.compactMap { (($0.json?["data"] as? [String: Any])?["seq_id"] as? NSNumber)?.intValue }
            #expect(Set(seqIDs) == Set(1...8))
        }
    }

    /// The dispatcher's figures once `condition` holds, or after 10 s (the receiver records a request
    /// before its answer reaches the dispatcher).
    static func statistics(
        of dispatcher: WebhookDispatcher, until condition: (WebhookDispatcher.Statistics) -> Bool
    ) async -> WebhookDispatcher.Statistics {
        for _ in 0..<1000 where !condition(dispatcher.statistics) { try? await Task.sleep(for: .milliseconds(10)) }
        return dispatcher.statistics
    }

    /// The value of an unlabelled counter in Prometheus text; 0 when absent.
    static func metricValue(_ name: String, in buffer: [UInt8]) -> Double {
        for line in String(decoding: buffer, as: UTF8.self).split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.split(separator: " ").last ?? "") ?? 0
        }
        return 0
    }
}
