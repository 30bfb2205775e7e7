import Foundation
import GatewayContract
import Hummingbird
import Testing

@testable import GatewayKit

/// The Gateway's answers keep to its contract, `openapi/openapi.yaml`: every status an operation
/// answers is documented for it, and every JSON body decodes as the generated type of the
/// documented schema and has no property the schema lacks. (Until the handlers are generated from
/// the spec, this is what keeps the two from drifting.)
@Suite("Contract: answers match openapi.yaml", .timeLimit(.minutes(2)))
struct ContractTests {
    static var document: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(GatewayAPIDocument.json.utf8)) as? [String: Any]) ?? [:]
    }

    static var paths: [String: [String: Any]] { document["paths"] as? [String: [String: Any]] ?? [:] }

    /// The statuses documented for `method path` (the path as the spec writes it).
    static func documentedStatuses(_ method: String, _ path: String) -> Set<String> {
        let operation = paths[path]?[method.lowercased()] as? [String: Any]
        return Set((operation?["responses"] as? [String: Any])?.keys.map { $0 } ?? [])
    }

    /// The top-level properties of a schema of `components`.
    static func properties(of schema: String) -> Set<String> {
        let schemas = (document["components"] as? [String: Any])?["schemas"] as? [String: Any]
        let object = schemas?[schema] as? [String: Any]
        return Set((object?["properties"] as? [String: Any])?.keys.map { $0 } ?? [])
    }

    /// Dates as the API writes them: RFC 3339 with fractional seconds.
    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not RFC 3339: \(text)"))
            }
            return date
        }
        return decoder
    }()

    /// Checks one answer against the contract: its status is documented for the operation, and
    /// its body decodes as `type` (the schema `schema`) with no extra property.
    @discardableResult
    static func check<Body: Decodable>(
        _ reply: GatewayHarness.Reply, _ method: String, _ path: String, as type: Body.Type, schema: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> Body? {
        #expect(
            documentedStatuses(method, path).contains(String(reply.status)),
            "\(method) \(path) answered \(reply.status), which the spec does not document", sourceLocation: sourceLocation)
        let body: Body
        do {
            body = try decoder.decode(type, from: Data(reply.text.utf8))
        } catch {
            Issue.record("\(method) \(path) \(reply.status): not a \(schema): \(error)\n\(reply.text)", sourceLocation: sourceLocation)
            return nil
        }
        let extra = Set(reply.json?.keys.map { $0 } ?? []).subtracting(properties(of: schema))
        #expect(extra.isEmpty, "\(method) \(path): \(extra) are not in \(schema)", sourceLocation: sourceLocation)
        return body
    }

    static func checkError(
        _ reply: GatewayHarness.Reply, _ method: String, _ path: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        check(reply, method, path, as: Components.Schemas._Error.self, schema: "Error", sourceLocation: sourceLocation)
    }

    @Test("accounts, tokens and messages: every answer is documented and has its schema's shape")
    func accountsAndMessages() async throws {
        try await GatewayHarness.run { gateway in
            let email = "contract-\(UUID().uuidString.prefix(8).lowercased())@example.com"
            let credentials: [String: Any] = ["email": email, "password": "secret-password"]
            let registered = try await gateway.request(.post, "/v1/auth/register", json: credentials.merging(["name": "C"]) { $1 })
            let pair = Self.check(registered, "POST", "/v1/auth/register", as: Components.Schemas.TokenPair.self, schema: "TokenPair")
            Self.checkError(try await gateway.request(.post, "/v1/auth/register", json: credentials), "POST", "/v1/auth/register")
            Self.checkError(
                try await gateway.request(.post, "/v1/auth/register", json: ["email": "no-at-sign", "password": "x"]), "POST",
                "/v1/auth/register")

            let login = try await gateway.request(.post, "/v1/auth/login", json: credentials)
            Self.check(login, "POST", "/v1/auth/login", as: Components.Schemas.TokenPair.self, schema: "TokenPair")
            Self.checkError(
                try await gateway.request(.post, "/v1/auth/login", json: ["email": email, "password": "wrong-password"]), "POST",
                "/v1/auth/login")
            for path in ["/v1/auth/register", "/v1/auth/login", "/v1/auth/refresh", "/v1/auth/verify", "/v1/auth/external"] {
                // Malformed JSON (400), not JSON at all (415), and too large (413): documented everywhere.
                Self.checkError(
                    try await gateway.request(.post, path, raw: "{", headers: [.contentType: "application/json"]), "POST", path)
                Self.checkError(try await gateway.request(.post, path, raw: "email=x", headers: [.contentType: "text/plain"]), "POST", path)
                Self.checkError(
                    try await gateway.request(
                        .post, path, raw: #"{"pad":""# + String(repeating: "x", count: 70_000) + #""}"#,
                        headers: [.contentType: "application/json"]), "POST", path)
            }

            let refreshed = try await gateway.request(.post, "/v1/auth/refresh", json: ["refresh_token": pair?.refreshToken ?? ""])
            let current = Self.check(refreshed, "POST", "/v1/auth/refresh", as: Components.Schemas.TokenPair.self, schema: "TokenPair")
            Self.checkError(
                try await gateway.request(.post, "/v1/auth/refresh", json: ["refresh_token": "not-a-token"]), "POST", "/v1/auth/refresh")
            let token = try #require(current?.accessToken)

            let me = try await gateway.request(.get, "/v1/me", token: token)
            Self.check(me, "GET", "/v1/me", as: Components.Schemas.Me.self, schema: "Me")
            Self.checkError(try await gateway.request(.get, "/v1/me"), "GET", "/v1/me")

            let sent = try await gateway.request(.post, "/v1/messages", json: ["text": "to the contract"], token: token)
            Self.check(sent, "POST", "/v1/messages", as: Components.Schemas.SendReceipt.self, schema: "SendReceipt")
            let drafty: [String: Any] = ["txt": "bold", "fmt": [["tp": "ST", "at": 0, "len": 4]]]
            let sentDrafty = try await gateway.request(.post, "/v1/messages", json: ["content": drafty], token: token)
            Self.check(sentDrafty, "POST", "/v1/messages", as: Components.Schemas.SendReceipt.self, schema: "SendReceipt")
            Self.checkError(try await gateway.request(.post, "/v1/messages", json: ["text": ""], token: token), "POST", "/v1/messages")
            Self.checkError(
                try await gateway.request(.post, "/v1/messages", json: ["text": String(repeating: "x", count: 20_000)], token: token),
                "POST", "/v1/messages")

            let history = try await gateway.request(.get, "/v1/messages?limit=10", token: token)
            let page = Self.check(history, "GET", "/v1/messages", as: Components.Schemas.HistoryPage.self, schema: "HistoryPage")
            #expect(page?.messages.map(\.text) == [nil, "to the contract"], "newest first, Drafty as content")
            for message in (history.json?["messages"] as? [[String: Any]]) ?? [] {
                #expect(Set(message.keys).isSubset(of: Self.properties(of: "Message")), "\(message.keys)")
            }
            Self.checkError(try await gateway.request(.get, "/v1/messages?limit=0", token: token), "GET", "/v1/messages")

            // Off in this configuration, and documented so.
            Self.checkError(
                try await gateway.request(.post, "/v1/auth/verify", json: credentials.merging(["code": "123456"]) { $1 }), "POST",
                "/v1/auth/verify")
            Self.checkError(try await gateway.request(.post, "/v1/auth/external", json: ["token": "x.y.z"]), "POST", "/v1/auth/external")
            Self.checkError(try await gateway.request(.get, "/v1/users/usr7yUCHniegrM", token: token), "GET", "/v1/users/{user_id}")
            Self.checkError(try await gateway.request(.get, "/v1/ws", token: token), "GET", "/v1/ws")

            for (path, status) in [("/v1/auth/logout", 204), ("/v1/auth/logout-all", 204)] {
                let fresh = try await gateway.request(.post, "/v1/auth/login", json: credentials)
                let access = try #require(fresh.json?["access_token"] as? String)
                let reply = try await gateway.request(.post, path, token: access)
                #expect(reply.status == status)
                #expect(Self.documentedStatuses("POST", path).contains(String(reply.status)))
            }
        }
    }
}
