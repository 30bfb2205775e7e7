import Foundation
import GatewayKit
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import SidecarCore
import SidecarServer
import Testing
import TinodeDouble

/// The real Gateway application on a loopback port, against a Tinode double and the redis-server
/// `scripts/test` started (or the embedded store when `valkey` is false).
struct GatewayHarness: Sendable {
    let client: any TestClientProtocol
    let double: TinodeDouble
    let room: String
    let port: Int

    static func run(
        valkey: Bool = true, extraEnvironment: [String: String] = [:], logger: Logger? = nil, options: TinodeDouble.Options = .init(),
        _ body: @escaping @Sendable (GatewayHarness) async throws -> Void
    ) async throws {
        let double = try await TinodeDouble.start(options: options)
        let owner = try double.createUser(login: "roomowner", password: "owner-password", name: "Owner")
        let room = double.createGroup(owner: owner, name: "general", tags: ["room:general"])
        let app = try await makeApplication(
            double: double, room: room, valkey: valkey, extraEnvironment: extraEnvironment, logger: logger)
        try await app.test(.live) { client in
            try await body(GatewayHarness(client: client, double: double, room: room, port: client.port ?? 0))
        }
        await double.stop()
    }

    /// Two Gateway instances on one Tinode double and one Valkey, as behind a load balancer.
    static func runTwo(
        extraEnvironment: [String: String] = [:], _ body: @escaping @Sendable (GatewayHarness, GatewayHarness) async throws -> Void
    ) async throws {
        let double = try await TinodeDouble.start()
        let owner = try double.createUser(login: "roomowner", password: "owner-password", name: "Owner")
        let room = double.createGroup(owner: owner, name: "general", tags: ["room:general"])
        let first = try await makeApplication(double: double, room: room, extraEnvironment: extraEnvironment)
        let second = try await makeApplication(double: double, room: room, extraEnvironment: extraEnvironment)
        try await first.test(.live) { firstClient in
            try await second.test(.live) { secondClient in
                try await body(
                    GatewayHarness(client: firstClient, double: double, room: room, port: firstClient.port ?? 0),
                    GatewayHarness(client: secondClient, double: double, room: room, port: secondClient.port ?? 0))
            }
        }
        await double.stop()
    }

    /// A Gateway application for `double` and `room`. Records an issue and throws when the test
    /// redis-server is needed and missing.
    static func makeApplication(
        double: TinodeDouble, room: String, valkey: Bool = true, extraEnvironment: [String: String] = [:], logger: Logger? = nil
    ) async throws -> some ApplicationProtocol {
        var environment = [
            "GATEWAY_HTTP_ADDR": "127.0.0.1:0", "TINODE_GRPC_ADDR": "127.0.0.1:\(double.port)", "TINODE_TOPIC_ID": room,
            "GATEWAY_METRICS_ADDR": "127.0.0.1:0",
            "ACCESS_SECRET": "gateway-test-access-secret-0123456789ab", "REFRESH_SECRET": "gateway-test-refresh-secret-0123456789a",
            "TINODE_REQUEST_TIMEOUT_MS": "10000", "GATEWAY_AUTH_ATTEMPTS_PER_MINUTE": "1000000",
            "GATEWAY_LOGIN_ATTEMPTS_PER_ACCOUNT_PER_HOUR": "1000000", "GATEWAY_SEND_BURST": "10000",
            "SIDECAR_SECRETS_DIR": "/nonexistent-sidecar-secrets", "LOG_LEVEL": "error",
        ]
        if valkey {
            guard let url = ProcessInfo.processInfo.environment["VALKEY_TEST_URL"], !url.isEmpty else {
                Issue.record("VALKEY_TEST_URL is not set: run scripts/test, which starts redis-server")
                throw CancellationError()
            }
            environment["VALKEY_URL"] = url
        }
        environment.merge(extraEnvironment) { $1 }
        let configuration = try SidecarConfiguration(reader: try await ConfigurationSources.makeReader(environment: environment))
        Observability.bootstrap(logLevel: .error)
        var quiet = Logger(label: "GatewayTest")
        quiet.logLevel = .error
        return try await buildGatewayApplication(configuration: configuration, logger: logger ?? quiet)
    }

    /// A response: status, headers and the JSON body (nil when not JSON).
    struct Reply: Sendable {
        let status: Int
        let headers: HTTPFields
        let text: String
        var json: [String: Any]? { try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] }
        var errorCode: String? { (json?["error"] as? [String: Any])?["code"] as? String }
    }

    func request(
        _ method: HTTPRequest.Method, _ path: String, json: Any? = nil, raw: String? = nil, token: String? = nil,
        headers extra: HTTPFields = [:]
    ) async throws -> Reply {
        var headers = extra
        var body: ByteBuffer?
        if let json {
            body = ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json))
            if headers[.contentType] == nil { headers[.contentType] = "application/json" }
        } else if let raw {
            body = ByteBuffer(string: raw)
        }
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await client.execute(uri: path, method: method, headers: headers, body: body) { response in
            Reply(status: Int(response.status.code), headers: response.headers, text: String(buffer: response.body))
        }
    }

    /// Registers `name` (address `<name>-<random>@example.com`) and returns the token pair's JSON.
    func register(_ name: String, password: String = "secret-password") async throws -> (email: String, tokens: [String: Any]) {
        let email = "\(name)-\(UUID().uuidString.prefix(8).lowercased())@example.com"
        let reply = try await request(.post, "/v1/auth/register", json: ["email": email, "password": password, "name": name.capitalized])
        #expect(reply.status == 201, "register: \(reply.status) \(reply.text)")
        return (email, try #require(reply.json))
    }
}
