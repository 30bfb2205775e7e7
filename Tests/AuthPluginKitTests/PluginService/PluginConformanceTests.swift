// Conformance of the pbx.Plugin server with Tinode's official Python bindings (PyPI `tinode-grpc`).
//
// `plugin_peer.py` plays Tinode: it builds realistic ClientReq/SearchQuery/event messages with
// `tinode_grpc.pb`, calls every Plugin RPC through `tinode_grpc.pbx.PluginStub` over a real socket
// and checks the answers field by field. This test runs that peer against a real server and then
// checks what the peer's events caused here: the uid <-> e-mail link and the webhooks.
//
// The interpreter comes from PBX_PYTHON (default `python3`) and must be able to import
// `tinode_grpc`; if it cannot, the test fails (it never skips).

import AuthPluginKit
import Foundation
import SidecarCore
import TestSupport
import Testing

@Suite("pbx.Plugin conformance with tinode-grpc (Python) acting as Tinode")
struct PluginConformanceTests {
    @Test("every RPC answers the official bindings as Tinode expects")
    func pythonPeerAsTinode() async throws {
        let uid = PluginEventTests.randomUID()
        let email = "grace.hopper@navy.mil"
        try await WebhookReceiver.run { receiver, webhookPort in
            let env = pluginEnvironment(
                valkeyURL: try testValkeyURL(),
                [
                    "PLUGIN_LOGIN_ATTEMPTS_PER_MINUTE": "3", "PLUGIN_MAX_PUB_BYTES": "1024", "PLUGIN_CANONICAL_LOGINS": "true",
                    "PLUGIN_FIND_EMAILS": "true", "PLUGIN_WEBHOOK_URLS": "http://127.0.0.1:\(webhookPort)/hook",
                    "PLUGIN_WEBHOOK_SECRET": WebhookDeliveryTests.secret,
                ])
            try await withPluginServer(env) { (harness: PluginHarness) async throws in
                // The e-mail may be linked to another uid by an earlier run against the same Valkey.
                if let old = try await harness.backend.identityLinks.uid(forEmail: email) {
                    _ = try await harness.backend.identityLinks.unlink(uid: old)
                }
                let clientIP = String(uniqueClientAddress().split(separator: ":")[0])
                let otherIP = String(uniqueClientAddress().split(separator: ":")[0])
                let peer = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("plugin_peer.py")
                let result = try await PythonScript.run(
                    peer, arguments: ["127.0.0.1:\(harness.port)", clientIP, otherIP, uid], timeout: .seconds(120))
                #expect(result.status == 0, "\(result.description)")
                #expect(result.stdout.contains("16 passed, 0 failed"), "\(result.description)")

                // The peer's {acc} and Account CREATE linked the account to its e-mail.
                #expect(try await harness.backend.identityLinks.uid(forEmail: email) == uid)
                _ = try await harness.backend.identityLinks.unlink(uid: uid)

                // Its four events arrived as webhooks, with the JSON it sent.
                let received = await receiver.wait { $0.count >= 4 }
                let byType = Dictionary(
                    received.compactMap { webhook in (webhook.json?["type"] as? String).map { ($0, webhook) } },
                    uniquingKeysWith: { first, _ in first })
                #expect(Set(byType.keys) == ["account", "topic", "subscription", "message"])
                let account = try #require(byType["account"]?.json?["data"] as? [String: Any])
                #expect(account["user_id"] as? String == "usr" + uid)
                #expect((account["public"] as? [String: String]) == ["fn": "Grace Hopper", "note": "COBOL"])
                let message = try #require(byType["message"]?.json?["data"] as? [String: Any])
                #expect((message["content"] as? [String: Any])?["txt"] as? String == "First compiler")
                let subscription = try #require(byType["subscription"]?.json?["data"] as? [String: Any])
                #expect((subscription["private"] as? [String: String]) == ["comment": "mine"])
                for webhook in received {
                    #expect(webhook.header("X-Signature") == WebhookDeliveryTests.expectedSignature(webhook.body))
                }
            }
        }
    }
}
