import Foundation
import TestSupport
import Testing

extension FaultTests {
    /// Issue 9's Valkey restart on AuthPlugin: the built program as a process answering REST-auth `auth`
    /// at a steady rate for Gateway tokens (issued by a Gateway process before the outage), with a real
    /// append-only redis-server that is killed and started again.
    @Suite("AuthPlugin faults under load (real processes, loopback)")
    struct AuthPluginFaultTests {
        @Test("Valkey restart: `internal` within the deadline during the outage, every auth succeeds 5 s after, old tokens still work")
        func valkeyRestart() async throws {
            let stack = try await GatewayStack.start()
            let users = try await stack.registerUsers(20, prefix: "auth-restart-")
            let port = try freeLoopbackPort()
            let deadlineMilliseconds = 2000
            let authPlugin = try ProgramProcess(
                "AuthPlugin",
                environment: [
                    "AUTHPLUGIN_HTTP_ADDR": "127.0.0.1:\(port)", "AUTHPLUGIN_GRPC_ADDR": "127.0.0.1:\(try freeLoopbackPort())",
                    "VALKEY_URL": stack.redis.url, "ACCESS_SECRET": GatewayStack.accessSecret, "LOG_LEVEL": "warning",
                    "REST_AUTH_TIMEOUT_MS": "\(deadlineMilliseconds)", "VALKEY_COMMAND_TIMEOUT_MS": "1000",
                    "VALKEY_CONNECT_TIMEOUT_MS": "1000",
                ])
            guard await waitUntilServing("http://127.0.0.1:\(port)/healthz") != nil else {
                Issue.record("AuthPlugin did not start: \(authPlugin.standardError)")
                await stack.shutdown()
                return
            }
            let bodies = users.map { user in
                #"{"endpoint":"auth","name":"rest","secret":"\#(Data(user.token.utf8).base64EncodedString())","addr":"127.0.0.1:5555"}"#
            }
            let log = OutcomeLog()
            let flag = StopFlag()
            let started = ContinuousClock.now
            let load = Task {
                // 20 callers, one call every 100 ms each: about 200 calls per second, as Tinode would make them.
                await steadyLoad(workers: users.count, pace: .milliseconds(100), until: flag, log: log) { worker, _ in
                    await timedRequest(stack.http, .POST, "http://127.0.0.1:\(port)/auth", body: bodies[worker], label: users[worker].id)
                }
            }
            try await Task.sleep(for: .seconds(3))
            let outageStart = ContinuousClock.now
            stack.redis.stop()
            try await Task.sleep(for: .seconds(3))
            try await stack.redis.start()
            let restarted = ContinuousClock.now
            try await Task.sleep(for: .seconds(8))
            flag.stop()
            await load.value
            let ended = ContinuousClock.now

            // Tinode's view of an answer: HTTP 200 always; a `rec` with the uid, or `{"err":"internal"}`.
            func known(_ outcome: Outcome) -> Bool {
                outcome.status == 200 && outcome.body.contains(#""uid":""#)
                    && outcome.label.map { outcome.body.contains($0.dropFirst(3)) } == true
            }
            func isInternal(_ outcome: Outcome) -> Bool { outcome.status == 200 && outcome.body == #"{"err":"internal"}"# }
            let all = log.all
            let steady = all.filter { $0.started + $0.duration < outageStart }
            let outage = log.started(in: outageStart..<restarted)
            let recovered = log.started(in: (restarted + .seconds(5))..<ended)
            #expect(
                steady.count > 100 && steady.allSatisfy(known), "before the outage: \(steady.filter { !known($0) }.prefix(3).map(\.body))")
            #expect(outage.contains(where: isInternal), "the outage was not noticed")
            for outcome in all where !known(outcome) {
                #expect(isInternal(outcome), "neither the user nor `internal`: \(outcome.status ?? 0) \(outcome.body)")
                #expect(outcome.duration < .milliseconds(deadlineMilliseconds + 1000), "a failure took \(outcome.duration)")
            }
            #expect(
                recovered.count > 100 && recovered.allSatisfy(known),
                "5 s after the restart: \(recovered.filter { !known($0) }.count) failed")
            let failures = all.filter { !known($0) }
            let lastFailureEnd = failures.map { $0.started + $0.duration }.max()
            let recoverySeconds = lastFailureEnd.map { max(0, ($0 - restarted).seconds) } ?? 0
            authPlugin.signal(SIGTERM)
            _ = await authPlugin.waitForExit()
            await stack.shutdown()
            print(
                "faults authplugin-valkey-restart: requests=\(all.count) ok=\(all.filter(known).count) internal=\(failures.count) "
                    + "other=\(failures.filter { !isInternal($0) }.count) outage_window_requests=\(outage.count) "
                    + "slowest_failure_ms=\((failures.map(\.duration).max() ?? .zero).milliseconds) "
                    + "last_failure_after_restart_s=\(String(format: "%.2f", recoverySeconds)) seconds=\(Int((ended - started).seconds))")
        }
    }
}
