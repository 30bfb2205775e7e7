// Conformance of the pbx.Plugin server with Tinode's official Python bindings (PyPI `tinode-grpc`).
//
// `plugin_peer.py` plays Tinode: it builds realistic ClientReq/SearchQuery/event messages with
// `tinode_grpc.pb`, calls every Plugin RPC through `tinode_grpc.pbx.PluginStub` over a real socket
// and checks the answers field by field. This test runs that peer against a real server and then
// checks what the peer's events caused here: no link or proof of the address, and the webhooks.
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
                // Find rewrites only a proven address (an earlier run may have proven it for its own uid).
                let proof = try await harness.backend.provenAddresses.prove(email: email, uid: uid, by: .tinodeValidation)
                let owner = try await harness.backend.provenAddresses.owner(ofEmail: email)
                let clientIP = String(uniqueClientAddress().split(separator: ":")[0])
                let otherIP = String(uniqueClientAddress().split(separator: ":")[0])
                let peer = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("plugin_peer.py")
                let result = try await PythonScript.run(
                    peer, arguments: ["127.0.0.1:\(harness.port)", clientIP, otherIP, uid], timeout: .seconds(120))
                #expect(result.status == 0, "\(result.description)")
                #expect(result.stdout.contains("16 passed, 0 failed"), "\(result.description)")

                // The peer's {acc} and Account CREATE linked and proved nothing.
                #expect(try await harness.backend.identityLinks.links(ofUID: uid).isEmpty)
                #expect(try await harness.backend.provenAddresses.owner(ofEmail: email) == owner)
                if proof == .created { try await harness.backend.provenAddresses.forget(uid: uid) }

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
