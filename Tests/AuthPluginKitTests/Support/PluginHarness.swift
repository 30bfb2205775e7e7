import AuthPluginKit
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import SidecarCore
import SidecarServer
import Synchronization
import Testing
import TinodeProto

/// The settings a plugin test starts from: a real Valkey, the gRPC server on a free loopback port.
func pluginEnvironment(valkeyURL: String, _ extra: [String: String] = [:]) -> [String: String] {
    var environment = baseEnvironment(valkeyURL: valkeyURL)
    environment["AUTHPLUGIN_GRPC_ADDR"] = "127.0.0.1:0"
    // A loaded CI machine may take longer than the production default for a Valkey round trip;
    // the throttle tests must see the bucket, not the fail-open path.
    environment["PLUGIN_THROTTLE_TIMEOUT_MS"] = "10000"
    environment.merge(extra) { _, new in new }
    return environment
}

/// A running plugin server and a gRPC client connected to it, as Tinode would be.
struct PluginHarness: Sendable {
    let plugin: Pbx_Plugin.Client<HTTP2ClientTransport.Posix>
    let port: Int
    let components: PluginComponents
    let backend: StoreBackend
}

/// Runs AuthPlugin's plugin components (gRPC server, webhook dispatcher, Valkey client) in a service
/// group, as the program does, hands `body` a client, then shuts the group down gracefully and
/// checks that it stopped without an error.
func withPluginServer(
    _ environment: [String: String], logger given: Logger? = nil, _ body: @escaping @Sendable (PluginHarness) async throws -> Void
) async throws {
    let configuration = try await configuration(environment)
    Observability.bootstrap(logLevel: .error)
    var logger = Logger(label: "PluginTest")
    logger.logLevel = .error
    if let given { logger = given }
    let backend = try StoreBackend(configuration: configuration, logger: logger)
    let components = try PluginComponents(configuration: configuration, backend: backend, logger: logger)
    let group = ServiceGroup(services: backend.services + components.services, gracefulShutdownSignals: [], logger: logger)
    try await whileRunning(group) {
        let port = try await components.server.listeningPort
        let transport = try HTTP2ClientTransport.Posix(
            target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext)
        try await withGRPCClient(transport: transport) { client in
            try await body(
                PluginHarness(plugin: Pbx_Plugin.Client(wrapping: client), port: port, components: components, backend: backend))
        }
    }
}

/// Runs `group` while `body` runs, then shuts it down gracefully and waits for it: the group's own
/// error (a service that throws on graceful shutdown would make the program exit with status 1)
/// comes first, then `body`'s.
func whileRunning<T: Sendable>(_ group: ServiceGroup, _ body: () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        let outcome: Result<T, any Error>
        do {
            outcome = .success(try await body())
        } catch {
            outcome = .failure(error)
        }
        await group.triggerGracefulShutdown()
        try await tasks.next()
        return try outcome.get()
    }
}

/// A `{login}` from `remoteAddr`, as Tinode's FireHose sends it.
func loginRequest(id: String, remoteAddr: String) -> Pbx_ClientReq {
    .with {
        $0.msg = .with {
            $0.login = .with {
                $0.id = id
                $0.scheme = "basic"
                $0.secret = Data("alice:secret-password".utf8)
            }
        }
        $0.sess = .with {
            $0.sessionID = "sess-\(id)"
            $0.remoteAddr = remoteAddr
            $0.authLevel = .none
        }
    }
}

/// A new-account `{acc}` through `basic` with an `email` credential.
func newAccountRequest(id: String, login: String, email: String, remoteAddr: String = uniqueClientAddress()) -> Pbx_ClientReq {
    .with {
        $0.msg = .with {
            $0.acc = .with {
                $0.id = id
                $0.userID = "new"
                $0.scheme = "basic"
                $0.secret = Data("\(login):a-good-password".utf8)
                $0.login = true
                $0.cred = [
                    .with {
                        $0.method = "email"; $0.value = email
                    }
                ]
            }
        }
        $0.sess = .with { $0.remoteAddr = remoteAddr }
    }
}

/// An address no other test uses, so that rate-limit buckets in the shared Valkey stay apart.
func uniqueClientAddress() -> String {
    "10.\(Int.random(in: 1...254)).\(Int.random(in: 1...254)).\(Int.random(in: 1...254)):\(Int.random(in: 1024...65000))"
}

/// One request a ``WebhookReceiver`` got.
struct ReceivedWebhook: Sendable {
    /// By lower-cased field name.
    let headers: [String: String]
    let body: Data

    func header(_ name: String) -> String? { headers[name.lowercased()] }

    var json: [String: Any]? { try? JSONSerialization.jsonObject(with: body) as? [String: Any] }
}

/// A real HTTP server on a loopback port that records webhook POSTs and answers each with the
/// status `respond` picks (given the request and how many requests came before it).
final class WebhookReceiver: Sendable {
    private let received = Mutex<[ReceivedWebhook]>([])

    var requests: [ReceivedWebhook] { received.withLock { $0 } }

    /// Waits until `condition` holds for the requests so far, or `timeout` passes; returns them.
    func wait(
        timeout: Duration = .seconds(30), until condition: @Sendable ([ReceivedWebhook]) -> Bool
    ) async -> [ReceivedWebhook] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let now = requests
            if condition(now) { return now }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return requests
    }

    /// Serves on a free loopback port while `body` runs.
    static func run(
        respond: @escaping @Sendable (ReceivedWebhook, Int) async -> HTTPResponse.Status = { _, _ in .ok },
        _ body: @escaping @Sendable (WebhookReceiver, Int) async throws -> Void
    ) async throws {
        let receiver = WebhookReceiver()
        let router = Router()
        router.post("/hook") { request, _ -> Response in
            var request = request
            let buffer = try await request.collectBody(upTo: 1 << 20)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName.lowercased()] = field.value }
            let webhook = ReceivedWebhook(headers: headers, body: Data(buffer.readableBytesView))
            let before = receiver.received.withLock { list in
                list.append(webhook)
                return list.count - 1
            }
            return Response(status: await respond(webhook, before))
        }
        let port = Mutex<Int?>(nil)
        var logger = Logger(label: "WebhookReceiver")
        logger.logLevel = .error
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in port.withLock { $0 = channel.localAddress?.port } }, logger: logger)
        let group = ServiceGroup(services: [app], gracefulShutdownSignals: [], logger: logger)
        try await whileRunning(group) {
            var bound: Int?
            for _ in 0..<500 where bound == nil {
                bound = port.withLock { $0 }
                if bound == nil { try await Task.sleep(for: .milliseconds(10)) }
            }
            try await body(receiver, try #require(bound, "webhook receiver did not start"))
        }
    }
}
