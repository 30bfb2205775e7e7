import AuthPluginKit
import Foundation
import GRPCCore
import SidecarCore
import Testing
import TinodeProto

@Suite("pbx.Plugin Find: e-mail addresses become the tags Tinode indexes")
struct PluginFindTests {
    static let mapper = try! LoginNameMapper()

    static func tags(_ email: String) -> String {
        let login = try! mapper.loginName(for: email)
        return "email:\(email),basic:\(login),rest:\(login)"
    }

    @Test(
        "queries with e-mail addresses are answered REPLACE with the rewritten query",
        arguments: [
            ("alice@example.com", tags("alice@example.com")),
            ("email:alice@example.com", tags("alice@example.com")),
            ("  Alice@Example.COM ", tags("alice@example.com")),
            ("alice@example.com,bob@example.org", tags("alice@example.com") + "," + tags("bob@example.org")),
            // A space is AND in Tinode's query language: each term keeps its place.
            ("alice@example.com room:general", tags("alice@example.com") + " room:general"),
            ("basic:svc1,alice@example.com", "basic:svc1," + tags("alice@example.com")),
            // The same address twice gives its tags once.
            ("alice@example.com,email:alice@example.com", tags("alice@example.com")),
        ])
    func rewrites(query: String, expected: String) async throws {
        try await withPluginServer(pluginEnvironment(valkeyURL: try testValkeyURL())) { (harness: PluginHarness) async throws in
            let found = try await harness.plugin.find(
                .with {
                    $0.userID = "usrAlice000001"; $0.query = query
                })
            #expect(found.status == .replace)
            #expect(found.query == expected)
            #expect(found.result.isEmpty)
        }
    }

    @Test("queries without an e-mail address are answered CONTINUE", arguments: ["basic:svc1", "room:general,tel:+15551234", "alice", ""])
    func othersContinue(query: String) async throws {
        try await withPluginServer(pluginEnvironment(valkeyURL: try testValkeyURL())) { (harness: PluginHarness) async throws in
            let found = try await harness.plugin.find(
                .with {
                    $0.userID = "usrAlice000001"; $0.query = query
                })
            #expect(found.status == .continue)
            #expect(found.query.isEmpty && found.result.isEmpty)
        }
    }

    @Test("with PLUGIN_FIND_EMAILS=false every query continues")
    func switchedOff() async throws {
        let env = pluginEnvironment(valkeyURL: try testValkeyURL(), ["PLUGIN_FIND_EMAILS": "false"])
        try await withPluginServer(env) { (harness: PluginHarness) async throws in
            let found = try await harness.plugin.find(.with { $0.query = "alice@example.com" })
            #expect(found.status == .continue)
        }
    }
}
