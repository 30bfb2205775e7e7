import Foundation
import SidecarCore
import TestSupport
import Testing
import Valkey

@testable import AuthPluginKit

@Suite("REST-auth when Valkey is down or slow")
struct RESTAuthStoreOutageTests {
    @Test("Valkey stopped mid-test: `internal` within the deadline, then recovery without a restart")
    func valkeyStopped() async throws {
        try await withRedisServer { server in
            var environment = baseEnvironment(valkeyURL: server.url)
            environment["VALKEY_CONNECT_TIMEOUT_MS"] = "300"
            environment["VALKEY_COMMAND_TIMEOUT_MS"] = "300"
            environment["REST_AUTH_TIMEOUT_MS"] = "1000"
            let settings = environment
            let uid = randomUID()
            try await withValkeyClient(try ValkeyConfiguration(url: server.url)) { valkey in
                let store = ValkeyTokenStore(client: valkey)
                let (token, _) = try await gatewayToken(uid: uid, environment: environment, store: store)
                try await withAuthPlugin(environment) { client in
                    let request: [String: Any] = ["secret": secretField(token)]
                    // The first logins also open the Valkey connections, which a machine busy with other
                    // tests may not manage within the short timeouts above: retry until one succeeds.
                    var loggedIn = false
                    for _ in 0..<50 where !loggedIn {
                        loggedIn = (try await client.call("auth", request)["rec"] as? [String: Any])?["uid"] as? String == uid
                        if !loggedIn { try await Task.sleep(for: .milliseconds(100)) }
                    }
                    #expect(loggedIn)

                    server.stop()
                    let started = ContinuousClock.now
                    #expect(try await client.call("auth", request) as NSDictionary == ["err": "internal"])
                    #expect(
                        try await client.call("checkunique", ["secret": secretField(externalToken(email: uniqueEmail()))]) as NSDictionary
                            == ["err": "internal"])
                    #expect(try await client.call("del", ["rec": ["uid": uid]]) as NSDictionary == ["err": "internal"])
                    // Three answers of at most the 1 s deadline each, and room for a machine busy with other
                    // suites (3.05 s was seen there); without the deadline these calls would never end.
                    #expect(ContinuousClock.now - started < .seconds(4.5), "each answer came within the deadline")
                    // rtagns never touches the store: Tinode can still boot.
                    #expect(try await client.call("rtagns", [:]) as NSDictionary == ["strarr": ["rest"]])

                    try await server.start()
                    // The restarted server kept nothing (no persistence here): log in afresh.
                    let (fresh, _) = try await gatewayToken(uid: uid, environment: settings, store: store)
                    // Within 5 s of Valkey being back, without restarting AuthPlugin.
                    var recovered = false
                    let back = ContinuousClock.now
                    while !recovered, ContinuousClock.now - back < .seconds(5) {
                        recovered =
                            (try await client.call("auth", ["secret": secretField(fresh)])["rec"] as? [String: Any])?["uid"] as? String
                            == uid
                        if !recovered { try await Task.sleep(for: .milliseconds(100)) }
                    }
                    #expect(recovered)
                }
            }
        }
    }

    @Test("A Valkey that does not answer: `internal` at REST_AUTH_TIMEOUT_MS, not at the command timeout")
    func deadline() async throws {
        try await withRedisServer { server in
            var environment = baseEnvironment(valkeyURL: server.url)
            environment["VALKEY_COMMAND_TIMEOUT_MS"] = "10000"
            environment["REST_AUTH_TIMEOUT_MS"] = "400"
            try await withValkeyClient(try ValkeyConfiguration(url: server.url)) { valkey in
                let store = ValkeyTokenStore(client: valkey)
                let (token, _) = try await gatewayToken(uid: randomUID(), environment: environment, store: store)
                try await withAuthPlugin(environment) { client in
                    // Warm the AuthPlugin's connection, then make the server hold every command.
                    _ = try await client.call("auth", ["secret": secretField(token)])
                    // CLIENT PAUSE holds every client's commands for 5 s (DEBUG SLEEP is disabled in Redis 7).
                    // The answer must come at the 400 ms deadline; the bound leaves room for a CI machine
                    // busy with other tests, and is still far below the pause and the command timeout.
                    _ = try await valkey.command(["CLIENT", "PAUSE", "5000"])
                    let started = ContinuousClock.now
                    #expect(try await client.call("auth", ["secret": secretField(token)]) as NSDictionary == ["err": "internal"])
                    let elapsed = ContinuousClock.now - started
                    #expect(elapsed < .milliseconds(3000), "answered after \(elapsed)")
                    try await Task.sleep(for: .seconds(5))
                }
            }
        }
    }
}
