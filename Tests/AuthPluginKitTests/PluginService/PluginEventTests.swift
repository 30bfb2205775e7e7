import AuthPluginKit
import Foundation
import GRPCCore
import SidecarCore
import SidecarServer
import Testing
import TinodeProto
import Valkey

@Suite("pbx.Plugin events, links, allow-list and metrics")
struct PluginEventTests {
    /// A random Tinode uid (11 base64url characters).
    static func randomUID() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        return String((0..<11).map { _ in alphabet.randomElement()! })
    }

    @Test("Account, Topic, Subscription and Message are answered at once with Unused, without webhooks too")
    func eventsAnswered() async throws {
        try await withPluginServer(pluginEnvironment(valkeyURL: try testValkeyURL())) { (harness: PluginHarness) async throws in
            _ = try await harness.plugin.account(
                .with {
                    $0.action = .create; $0.userID = "usr" + Self.randomUID()
                })
            _ = try await harness.plugin.topic(
                .with {
                    $0.action = .delete; $0.name = "grpChat0000001"
                })
            _ = try await harness.plugin.subscription(
                .with {
                    $0.action = .update; $0.topic = "grpChat0000001"
                })
            _ = try await harness.plugin.message(
                .with {
                    $0.action = .create; $0.msg = .with { $0.topic = "grpChat0000001" }
                })
        }
    }

    @Test("Account events link and prove nothing: a basic registration or an email: tag is not proof of the address")
    func accountEventsProveNothing() async throws {
        let url = try testValkeyURL()
        let email = "dora\(Int.random(in: 1...9_999_999))@example.com"
        let login = try LoginNameMapper().loginName(for: email)
        let (uid, taggedUID) = (Self.randomUID(), Self.randomUID())
        try await withPluginServer(pluginEnvironment(valkeyURL: url)) { (harness: PluginHarness) async throws in
            let allowed = try await harness.plugin.fireHose(newAccountRequest(id: "1", login: login, email: email))
            #expect(allowed.status == .continue)
            for action in [Pbx_Crud.create, .update] {
                _ = try await harness.plugin.account(
                    .with {
                        $0.action = action
                        $0.userID = "usr" + uid
                        $0.tags = ["basic:\(login)"]
                        $0.public = Data(#"{"fn":"Dora"}"#.utf8)
                    })
                // A client sets `email:` tags itself when Tinode has no e-mail validator.
                _ = try await harness.plugin.account(
                    .with {
                        $0.action = action
                        $0.userID = "usr" + taggedUID
                        $0.tags = ["email:\(email)", "basic:someone"]
                    })
            }
            #expect(try await harness.backend.provenAddresses.owner(ofEmail: email) == nil)
            #expect(try await harness.backend.provenAddresses.addresses(ofUID: uid).isEmpty)
            #expect(try await harness.backend.identityLinks.links(ofUID: uid).isEmpty)
            #expect(try await harness.backend.identityLinks.links(ofUID: taggedUID).isEmpty)
            // Nor the old layout's e-mail link that these events used to write.
            #expect(try await harness.backend.valkey?.getString("sidecar:link:email:" + email) == nil)
        }
    }

    @Test("callers outside AUTHPLUGIN_ALLOWED_NETWORKS get PERMISSION_DENIED")
    func allowList() async throws {
        let env = pluginEnvironment(valkeyURL: try testValkeyURL(), ["AUTHPLUGIN_ALLOWED_NETWORKS": "10.0.0.0/8"])
        try await withPluginServer(env) { (harness: PluginHarness) async throws in
            let error = await #expect(throws: RPCError.self) {
                _ = try await harness.plugin.fireHose(loginRequest(id: "1", remoteAddr: "10.0.0.1:1"))
            }
            #expect(error?.code == .permissionDenied)
        }
    }

    @Test("per-RPC counters and latency histograms appear on /metrics")
    func metrics() async throws {
        try await withPluginServer(pluginEnvironment(valkeyURL: try testValkeyURL(), ["PLUGIN_MAX_PUB_BYTES": "10"])) {
            (harness: PluginHarness) async throws in
            _ = try await harness.plugin.fireHose(.with { $0.msg = .with { $0.hi = .with { $0.id = "1" } } })
            _ = try await harness.plugin.fireHose(.with { $0.msg = .with { $0.pub = .with { $0.content = Data(count: 11) } } })
            // Only a proven address is rewritten (whichever uid proved it first on this Valkey).
            _ = try await harness.backend.provenAddresses.prove(email: "a@b.c", uid: Self.randomUID(), by: .tinodeValidation)
            _ = try await harness.plugin.find(.with { $0.query = "a@b.c" })
            _ = try await harness.plugin.message(.with { $0.action = .create })
        }
        var buffer: [UInt8] = []
        Observability.registry.emit(into: &buffer)
        let text = String(decoding: buffer, as: UTF8.self)
        for expected in [
            #"authplugin_plugin_calls_total{rpc="firehose",result="continue"}"#,
            #"authplugin_plugin_calls_total{rpc="firehose",result="respond"}"#,
            #"authplugin_plugin_calls_total{rpc="find",result="replace"}"#,
            #"authplugin_plugin_calls_total{rpc="message",result="ok"}"#,
            #"authplugin_plugin_call_duration_seconds_bucket{rpc="firehose""#,
            #"authplugin_plugin_policy_total{policy="size"}"#,
            "authplugin_webhook_queue_depth",
        ] {
            #expect(text.contains(expected), "missing \(expected)")
        }
    }
}
