import Foundation
import TestSupport
import Testing

private let accessSecret = "access-secret-value-0123456789-abcdef"
private let redisPassword = "redis-password-never-logged"

@Suite("Programs start, report their configuration, serve /healthz and stop cleanly")
struct ProgramLifecycleTests {
    @Test(
        "Each program serves /healthz and /metrics (the Gateway's on GATEWAY_METRICS_ADDR only) and exits 0 on SIGTERM and SIGINT",
        arguments: [("AuthPlugin", "AUTHPLUGIN_HTTP_ADDR", SIGTERM), ("Gateway", "GATEWAY_HTTP_ADDR", SIGINT)])
    func lifecycle(program: String, addressVariable: String, stopSignal: Int32) async throws {
        let (process, port, grpcPort, health) = try await ProgramProcess.startServing(program) { port, grpcPort in
            [
                addressVariable: "127.0.0.1:\(port)", "AUTHPLUGIN_GRPC_ADDR": "127.0.0.1:\(grpcPort)", "ACCESS_SECRET": accessSecret,
                // The Gateway binds no gRPC port: its metrics listener takes that free port.
                "GATEWAY_METRICS_ADDR": "127.0.0.1:\(grpcPort)", "REDIS_PASS": redisPassword,
                "VALKEY_URL": "redis://:url-password-never-logged@127.0.0.1:6379/0",
            ]
        }
        #expect(health?.status == 200)
        #expect(health?.body == #"{"status":"ok"}"#)
        let metricsPort = program == "Gateway" ? grpcPort : port
        let metrics = await waitUntilServing("http://127.0.0.1:\(metricsPort)/metrics")
        #expect(metrics?.status == 200)
        #expect(metrics?.body.contains("# TYPE ") == true, "\(metrics?.body ?? "no answer")")
        if program == "Gateway" {
            // The API's port, which faces the internet, does not serve the metrics.
            #expect(await httpGet("http://127.0.0.1:\(port)/metrics")?.status == 404)
        }
        if program == "AuthPlugin" {
            #expect(loopbackPortAcceptsConnections(grpcPort), "AuthPlugin does not serve pbx.Plugin on AUTHPLUGIN_GRPC_ADDR")
        }

        process.signal(stopSignal)
        let status = await process.waitForExit()
        #expect(status == 0, "\(program) did not stop cleanly: \(process.standardError)")
        let log = process.standardError
        #expect(log.contains("\(program) starting"))
        #expect(log.contains("ACCESS_SECRET=<set, redacted>"))
        #expect(log.contains("VALKEY_URL=redis://:***@127.0.0.1:6379/0"))
        #expect(log.contains("\(program) stopped"))
        for secret in [accessSecret, redisPassword, "url-password-never-logged"] {
            #expect(!log.contains(secret), "the log shows a secret")
        }
        if program == "Gateway" {
            // Development without REFRESH_SECRET: a generated one, and a warning that says so.
            #expect(log.contains("REFRESH_SECRET is unset"))
        } else {
            // AuthPlugin never reads it (the Gateway alone issues refresh tokens), nor the Gateway's settings.
            #expect(!log.contains("REFRESH_SECRET") && !log.contains("MONGO_URL") && !log.contains("TINODE_GRPC_ADDR"))
        }
    }

    @Test(
        "Open connections do not hold up the exit: one that never sent a request, one kept alive after a request",
        arguments: [("AuthPlugin", "AUTHPLUGIN_HTTP_ADDR"), ("Gateway", "GATEWAY_HTTP_ADDR")])
    func exitWithOpenConnections(program: String, addressVariable: String) async throws {
        let (process, port, _, health) = try await ProgramProcess.startServing(program) { port, grpcPort in
            [
                addressVariable: "127.0.0.1:\(port)", "AUTHPLUGIN_GRPC_ADDR": "127.0.0.1:\(grpcPort)",
                "GATEWAY_METRICS_ADDR": "127.0.0.1:\(grpcPort)", "ACCESS_SECRET": accessSecret,
            ]
        }
        #expect(health != nil)
        let silent = try RawConnection(port: port)
        let keptAlive = try RawConnection(port: port)
        let answer = try await RawConnection.run {
            _ = keptAlive.send("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            return keptAlive.readResponse(timeout: .seconds(5))
        }
        #expect(answer.hasPrefix("HTTP/1.1 200"))

        // Well under the idle deadline (60 s): the connections are closed when the shutdown begins.
        process.signal(SIGTERM)
        let status = await process.waitForExit(timeout: .seconds(8))
        #expect(status == 0, "\(program) did not exit within 8 s with two open connections")
        let closed = try await RawConnection.run {
            (silent.readUntilClosed(timeout: .seconds(1)), keptAlive.readUntilClosed(timeout: .seconds(1)))
        }
        #expect(closed.0.closed && closed.1.closed)
    }

    @Test("Production without secrets stops at once with one clear line and exit status 78")
    func productionRefusesToStart() async throws {
        let process = try ProgramProcess("Gateway", environment: ["ENV": "production"])
        let status = await process.waitForExit()
        #expect(status == 78)
        #expect(process.standardError.contains("Gateway: configuration error: ACCESS_SECRET: is required in production"))
        #expect(!process.standardError.contains("Fatal error"))
    }

    @Test("`AuthPlugin login-name` prints one name per address and fails on an invalid one")
    func loginNameCommand() async throws {
        let ok = try ProgramProcess("AuthPlugin", arguments: ["login-name", "john@gmail.com", " John@Gmail.COM "], environment: [:])
        #expect(await ok.waitForExit() == 0)
        #expect(ok.standardOutput == "john_gm_1f9d9a9e\njohn_gm_1f9d9a9e\n")

        let bad = try ProgramProcess("AuthPlugin", arguments: ["login-name", "john@gmail.com", "not-an-address"], environment: [:])
        #expect(await bad.waitForExit() == 1)
        #expect(bad.standardOutput == "john_gm_1f9d9a9e\n")
        #expect(bad.standardError.contains(#"invalid address "not-an-address": the address has no '@'"#))
    }
}
