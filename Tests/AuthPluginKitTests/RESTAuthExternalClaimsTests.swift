import Foundation
import TestSupport
import Testing

@testable import AuthPluginKit

@Suite("REST-auth: external tokens without a usable sub, exp or lifetime are refused, with the reason logged")
struct RESTAuthExternalClaimsTests {
    @Test("Each claim refusal answers failed and logs why; the boundaries are accepted")
    func claimRefusals() async throws {
        let environment = baseEnvironment(valkeyURL: try testValkeyURL())
        let now = Int(Date().timeIntervalSince1970)
        let day = 86_400
        let cases: [(name: String, token: String, reason: String)] = [
            ("no exp", externalToken(email: uniqueEmail(), omitting: ["exp"]), "missing_claim"),
            ("no sub", externalToken(email: uniqueEmail(), omitting: ["sub"]), "missing_claim"),
            ("empty sub", externalToken(email: uniqueEmail(), subject: ""), "missing_claim"),
            ("sub of 256 bytes", externalToken(email: uniqueEmail(), subject: String(repeating: "s", count: 256)), "missing_claim"),
            ("no email", externalToken(email: uniqueEmail(), omitting: ["email"]), "missing_claim"),
            ("exp - iat over a day", externalToken(email: uniqueEmail(), extra: ["iat": now - 10, "exp": now + day]), "lifetime_too_long"),
            (
                "no iat, exp a day and an hour away", externalToken(email: uniqueEmail(), expiresIn: TimeInterval(day + 3600)),
                "lifetime_too_long"
            ),
            ("iat a minute ahead", externalToken(email: uniqueEmail(), extra: ["iat": now + 60]), "issued_in_future"),
        ]
        let logs = CapturedLogs()
        try await withAuthPlugin(environment, logger: logs.logger(label: "AuthPluginTest", level: .info)) { client in
            for (name, token, _) in cases {
                #expect(try await client.call("auth", ["secret": secretField(token)]) as NSDictionary == ["err": "failed"], "\(name)")
                #expect(
                    try await client.call("checkunique", ["secret": secretField(token)]) as NSDictionary == ["err": "failed"], "\(name)")
            }
            // Just inside every limit: a lifetime of exactly a day, iat within the leeway, a 255-byte sub.
            let accepted = [
                externalToken(email: uniqueEmail(), extra: ["iat": now, "exp": now + day]),
                externalToken(email: uniqueEmail(), extra: ["iat": now + 3]),
                externalToken(email: uniqueEmail(), subject: String(repeating: "é", count: 127) + "s"),
            ]
            for token in accepted {
                let answer = try await client.call("auth", ["secret": secretField(token)])
                #expect(answer["newacc"] != nil, "\(answer)")
            }
        }
        let refusals = logs.all.filter { $0.contains("REST-auth: token refused") }
        for (name, _, reason) in cases {
            #expect(refusals.contains { $0.contains("reason=\(reason)") }, "\(name): no log line with reason=\(reason)")
        }
        #expect(refusals.allSatisfy { $0.contains("token=external") && $0.contains("answer=failed") })
    }
}
