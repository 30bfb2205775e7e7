import AuthPluginKit
import Foundation
import GRPCCore
import SidecarCore
import Testing
import TinodeProto

@Suite("pbx.Plugin Find: proven e-mail addresses become the tags Tinode indexes; others stay as written")
struct PluginFindTests {
    static let mapper = try! LoginNameMapper()
    /// Proven before each test (by whichever uid proved them first on this Valkey: only that they are matters).
    static let alice = "alice.find@example.com"
    static let bob = "bob.find@example.org"
    /// Never proven: unique to this run.
    static let carol = "carol.\(UUID().uuidString.prefix(8).lowercased())@example.com"

    /// Only the tag of a proven address: login-name tags may belong to a colliding or unverified account.
    static func tags(_ email: String) -> String {
        "email:\(email)"
    }

    /// Runs a plugin server whose store holds proofs of `alice` and `bob`.
    static func withProvenAddresses(
        _ extra: [String: String] = [:], _ body: @escaping @Sendable (PluginHarness) async throws -> Void
    ) async throws {
        try await withPluginServer(pluginEnvironment(valkeyURL: try testValkeyURL(), extra)) { (harness: PluginHarness) async throws in
            for email in [alice, bob] {
                _ = try await harness.backend.provenAddresses.prove(email: email, uid: PluginEventTests.randomUID(), by: .tinodeValidation)
            }
            try await body(harness)
        }
    }

    @Test(
        "queries with proven addresses are answered REPLACE with the rewritten query",
        arguments: [
            (alice, tags(alice)),
            ("email:\(alice)", tags(alice)),
            ("  Alice.Find@Example.COM ", tags(alice)),
            ("\(alice),\(bob)", "\(tags(alice)),\(tags(bob))"),
            // A space is AND in Tinode's query language: each term keeps its place.
            ("\(alice) room:general", "\(tags(alice)) room:general"),
            ("basic:svc1,\(alice)", "basic:svc1,\(tags(alice))"),
            // The same address twice gives its tags once.
            ("\(alice),email:\(alice)", tags(alice)),
            // An unproven address next to a proven one is kept as written.
            ("\(carol),\(alice)", "\(carol),\(tags(alice))"),
            ("email:\(carol) \(bob)", "email:\(carol) \(tags(bob))"),
        ] as [(String, String)])
    func rewrites(query: String, expected: String) async throws {
        try await Self.withProvenAddresses { harness in
            let found = try await harness.plugin.find(
                .with {
                    $0.userID = "usrAlice000001"; $0.query = query
                })
            #expect(found.status == .replace)
            #expect(found.query == expected)
            #expect(found.result.isEmpty)
        }
    }

    @Test(
        "queries without a proven address are answered CONTINUE",
        arguments: ["basic:svc1", "room:general,tel:+15551234", "alice", "", carol, "email:\(carol)", "\(carol) room:general"])
    func othersContinue(query: String) async throws {
        try await Self.withProvenAddresses { harness in
            let found = try await harness.plugin.find(
                .with {
                    $0.userID = "usrAlice000001"; $0.query = query
                })
            #expect(found.status == .continue)
            #expect(found.query.isEmpty && found.result.isEmpty)
        }
    }

    @Test("an address becomes findable by its tags once it is proven")
    func proofMakesFindable() async throws {
        let dave = "dave.\(UUID().uuidString.prefix(8).lowercased())@example.com"
        try await Self.withProvenAddresses { harness in
            #expect(try await harness.plugin.find(.with { $0.query = dave }).status == .continue)
            let uid = PluginEventTests.randomUID()
            #expect(try await harness.backend.provenAddresses.prove(email: dave, uid: uid, by: .externalToken) == .created)
            let found = try await harness.plugin.find(.with { $0.query = dave })
            #expect(found.status == .replace)
            #expect(found.query == Self.tags(dave))
            try await harness.backend.provenAddresses.forget(uid: uid)
            #expect(try await harness.plugin.find(.with { $0.query = dave }).status == .continue)
        }
    }

    @Test("with PLUGIN_FIND_EMAILS=false every query continues")
    func switchedOff() async throws {
        try await Self.withProvenAddresses(["PLUGIN_FIND_EMAILS": "false"]) { harness in
            let found = try await harness.plugin.find(.with { $0.query = Self.alice })
            #expect(found.status == .continue)
        }
    }
}
