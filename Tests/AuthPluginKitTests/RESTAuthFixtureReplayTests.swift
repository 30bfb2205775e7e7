import Foundation
import Testing

@testable import AuthPluginKit

/// One recorded scenario of `shared/fixtures/rest-auth/`: what a real Tinode v0.25.3 sent.
struct RecordedScenario {
    let file: String
    let requests: [(path: String, body: String)]

    static func all(sourceLocation: SourceLocation = #_sourceLocation) throws -> [RecordedScenario] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let folder = root.deletingLastPathComponent().appendingPathComponent("shared/fixtures/rest-auth")
        let files = (try? FileManager.default.contentsOfDirectory(atPath: folder.path))?.filter { $0.hasSuffix(".json") }.sorted() ?? []
        try #require(!files.isEmpty, "no recorded REST-auth scenarios under \(folder.path)", sourceLocation: sourceLocation)
        return try files.map { file in
            let data = try Data(contentsOf: folder.appendingPathComponent(file))
            let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            let requests = try #require(object["requests"] as? [[String: Any]])
            return RecordedScenario(
                file: file,
                requests: try requests.map { request in
                    (try #require(request["path"] as? String), try #require(request["raw_body"] as? String))
                })
        }
    }
}

@Suite("Replaying what a real Tinode sent")
struct RESTAuthFixtureReplayTests {
    @Test("Every recorded request, sent byte for byte, gets an answer Tinode accepts")
    func rawReplay() async throws {
        let scenarios = try RecordedScenario.all()
        try await withAuthPlugin(baseEnvironment(valkeyURL: try testValkeyURL())) { client in
            var replayed = 0
            for scenario in scenarios {
                for (path, body) in scenario.requests {
                    let (status, json, text) = try await client.post(path, raw: body)
                    let endpoint = String(path.dropFirst())
                    let problems = tinodeProblems(endpoint: endpoint, status: status, json: json)
                    #expect(problems.isEmpty, "\(scenario.file) \(path): \(text) -> \(problems)")
                    // The recorder's secrets are `login:password`, not JWTs: never let in.
                    if endpoint == "auth" { #expect(json?["err"] as? String == "malformed", "\(scenario.file): \(text)") }
                    if endpoint == "rtagns" { #expect(json as NSDictionary? == ["strarr": ["rest"]]) }
                    replayed += 1
                }
            }
            #expect(replayed >= 30)
        }
    }

    @Test("The recorded flows, with JWTs as secrets, take the success paths Tinode expects")
    func flowsWithTokens() async throws {
        let scenarios = Dictionary(uniqueKeysWithValues: try RecordedScenario.all().map { ($0.file, $0) })
        // Each recorded secret stands for one user of the backend; each recorded uid for one new Tinode id.
        var tokens: [String: String] = [:]
        var uids: [String: String] = [:]
        func rewrite(_ body: String) throws -> [String: Any] {
            var object = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
            if let secret = object["secret"] as? String {
                let token = tokens[secret] ?? externalToken(email: uniqueEmail("replay"))
                tokens[secret] = token
                object["secret"] = secretField(token)
            }
            if var rec = object["rec"] as? [String: Any], let uid = rec["uid"] as? String {
                let fresh = uids[uid] ?? randomUID()
                uids[uid] = fresh
                rec["uid"] = fresh
                object["rec"] = rec
            }
            return object
        }
        var answers: [String: [[String: Any]]] = [:]
        for file in [
            "02-login-rest-new-user.json", "03-login-rest-known-user.json", "04-acc-rest-create.json", "07-acc-rest-update-secret.json",
            "09-del-rest-user.json",
        ] {
            let scenario = try #require(scenarios[file])
            var requests: [(String, String)] = []
            for (path, body) in scenario.requests {
                let object = try rewrite(body)
                requests.append((path, String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)))
            }
            answers[file] = try await replay(requests).map { text in
                (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? [:]
            }
        }
        let newUser = try #require(answers["02-login-rest-new-user.json"])
        #expect(newUser[0]["newacc"] != nil && (newUser[0]["rec"] as? [String: Any])?["uid"] == nil, "auth offers a new account")
        #expect(newUser[1] as NSDictionary == [:], "link succeeds")
        let known = try #require(answers["03-login-rest-known-user.json"])
        #expect((known[0]["rec"] as? [String: Any])?["uid"] as? String == uids["lIKeVij5zrI"], "the linked user is known")
        let created = try #require(answers["04-acc-rest-create.json"])
        #expect(created[0] as NSDictionary == ["boolval": true])
        #expect((created[1]["rec"] as? [String: Any])?["uid"] as? String == uids["D4FzaKahTm0"])
        let updated = try #require(answers["07-acc-rest-update-secret.json"])
        #expect(updated[1] as NSDictionary == [:], "upd succeeds")
        let deleted = try #require(answers["09-del-rest-user.json"])
        #expect(deleted[1] as NSDictionary == [:], "del lets the deletion proceed")
    }

    /// Sends the requests (path, JSON body) of one scenario in order, checks each answer is one
    /// Tinode accepts, and returns the answers' JSON text.
    private func replay(_ requests: [(String, String)]) async throws -> [String] {
        let environment = baseEnvironment(valkeyURL: try testValkeyURL())
        let box = AnswerBox()
        try await withAuthPlugin(environment) { client in
            for (path, body) in requests {
                let (status, json, text) = try await client.post(path, raw: body)
                let problems = tinodeProblems(endpoint: String(path.dropFirst()), status: status, json: json)
                #expect(problems.isEmpty, "\(path): \(text) -> \(problems)")
                await box.append(text)
            }
        }
        return await box.answers
    }
}

private actor AnswerBox {
    var answers: [String] = []
    func append(_ answer: String) { answers.append(answer) }
}
