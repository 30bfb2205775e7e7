import AsyncHTTPClient
import Foundation
import TestSupport
import Testing
import TinodeDouble

/// The Gateway of a fault test as a real process, with a real redis-server (append-only, so a
/// restart keeps the token records) and the Tinode double serving gRPC on a loopback port of this
/// process, which can be stopped and restarted with its data.
final class GatewayStack: @unchecked Sendable {
    let redis: RedisServerProcess
    let double: TinodeDouble
    let room: String
    let port: Int
    /// `GATEWAY_METRICS_ADDR`'s port: `/metrics` is served there, not on `port`.
    let metricsPort: Int
    let gateway: ProgramProcess
    let http: HTTPClient

    /// A registered user: its id and access token.
    struct User: Sendable {
        let id: String
        let token: String
    }

    static let accessSecret = "fault-test-access-secret-0123456789abcdef"

    private init(
        redis: RedisServerProcess, double: TinodeDouble, room: String, port: Int, metricsPort: Int, gateway: ProgramProcess,
        http: HTTPClient
    ) {
        self.redis = redis
        self.double = double
        self.room = room
        self.port = port
        self.metricsPort = metricsPort
        self.gateway = gateway
        self.http = http
    }

    /// A test that throws before `shutdown()` (a registration refused on an overloaded machine) must
    /// fail with its error, not crash the test process: AsyncHTTPClient traps in debug builds when a
    /// client is released without being shut down. The processes end in their own deinits.
    deinit {
        _ = http.shutdown()
    }

    var baseURL: String { "http://127.0.0.1:\(port)" }
    var metricsURL: String { "http://127.0.0.1:\(metricsPort)/metrics" }

    static func start(connections: Int = 120, environment extra: [String: String] = [:]) async throws -> GatewayStack {
        let redis = try RedisServerProcess(appendOnly: true)
        try await redis.start()
        let double = try await TinodeDouble.start()
        let owner = try double.createUser(login: "roomowner", password: "owner-password", name: "Owner")
        let room = double.createGroup(owner: owner, name: "general", tags: ["room:general"])
        let port = try freeLoopbackPort()
        let metricsPort = try freeLoopbackPort()
        var environment = [
            "GATEWAY_HTTP_ADDR": "127.0.0.1:\(port)", "TINODE_GRPC_ADDR": "127.0.0.1:\(double.port)", "TINODE_TOPIC_ID": room,
            "GATEWAY_METRICS_ADDR": "127.0.0.1:\(metricsPort)",
            "VALKEY_URL": redis.url, "ACCESS_SECRET": accessSecret, "REFRESH_SECRET": "fault-test-refresh-secret-0123456789abcde",
            "TINODE_REQUEST_TIMEOUT_MS": "3000", "VALKEY_COMMAND_TIMEOUT_MS": "1000", "VALKEY_CONNECT_TIMEOUT_MS": "1000",
            "GATEWAY_AUTH_ATTEMPTS_PER_MINUTE": "1000000", "GATEWAY_SEND_BURST": "10000", "GATEWAY_SENDS_PER_SECOND": "1000",
            "LOG_LEVEL": "warning",
        ]
        environment.merge(extra) { $1 }
        let gateway = try ProgramProcess("Gateway", environment: environment)
        guard await waitUntilServing("http://127.0.0.1:\(port)/healthz") != nil else {
            Issue.record("the Gateway did not start: \(gateway.standardError)")
            throw CancellationError()
        }
        return GatewayStack(
            redis: redis, double: double, room: room, port: port, metricsPort: metricsPort, gateway: gateway,
            http: makeLoadClient(connections: connections))
    }

    /// Registers `count` users, a few at a time.
    func registerUsers(_ count: Int, prefix: String) async throws -> [User] {
        try await withThrowingTaskGroup(of: User.self) { group in
            var users: [User] = []
            for index in 0..<count {
                if index >= 8, let user = try await group.next() { users.append(user) }
                group.addTask { [self] in
                    let body = #"{"email":"\#(prefix)\#(index)@example.com","password":"fault-password","name":"User \#(index)"}"#
                    let outcome = await timedRequest(http, .POST, baseURL + "/v1/auth/register", body: body)
                    let json = try JSONSerialization.jsonObject(with: Data(outcome.body.utf8)) as? [String: Any]
                    guard outcome.status == 201, let id = json?["user_id"] as? String, let token = json?["access_token"] as? String else {
                        throw RegistrationFailed(answer: "\(outcome.status ?? 0) \(outcome.body)")
                    }
                    return User(id: id, token: token)
                }
            }
            for try await user in group { users.append(user) }
            return users
        }
    }

    struct RegistrationFailed: Error { let answer: String }

    /// One message from each user, 8 at a time, before the timeline starts: a user's first send opens
    /// their Tinode session and joins the room, and on a slow machine 100 users doing that at once take
    /// seconds (every join is announced to every member). Without it the "steady" phase before a fault
    /// would mostly measure session opening.
    func warmUp(_ users: [User]) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, user) in users.enumerated() {
                if index >= 8 { try await group.next() }
                group.addTask { [self] in
                    let outcome = await send("warm-up-\(index)-\(UUID().uuidString)", as: user)
                    guard outcome.status == 201 else { throw WarmUpFailed(answer: "\(outcome.status ?? 0) \(outcome.body)") }
                }
            }
            try await group.waitForAll()
        }
    }

    struct WarmUpFailed: Error { let answer: String }

    /// `POST /v1/messages {"text": text}` as `user`.
    func send(_ text: String, as user: User, idempotencyKey: String? = nil) async -> Outcome {
        var headers = [("Authorization", "Bearer \(user.token)")]
        if let idempotencyKey { headers.append(("Idempotency-Key", idempotencyKey)) }
        let body = String(decoding: try! JSONSerialization.data(withJSONObject: ["text": text]), as: UTF8.self)
        return await timedRequest(http, .POST, baseURL + "/v1/messages", body: body, headers: headers, label: text)
    }

    /// How many times each text is stored in the room, from the double's own records.
    func storedTexts() -> [String: Int] {
        var counts: [String: Int] = [:]
        for message in double.messages(inTopic: room) {
            if let text = try? JSONSerialization.jsonObject(with: message.content, options: [.fragmentsAllowed]) as? String {
                counts[text, default: 0] += 1
            }
        }
        return counts
    }

    func shutdown() async {
        gateway.signal(SIGTERM)
        _ = await gateway.waitForExit(timeout: .seconds(20))
        try? await http.shutdown()
        await double.stop()
        redis.stop()
    }
}
