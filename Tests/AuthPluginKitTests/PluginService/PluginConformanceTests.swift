// Conformance of the pbx.Plugin server with Tinode's official Python bindings (PyPI `tinode-grpc`).
//
// `plugin_peer.py` plays Tinode: it builds realistic ClientReq/SearchQuery/event messages with
// `tinode_grpc.pb`, calls every Plugin RPC through `tinode_grpc.pbx.PluginStub` over a real socket
// and checks the answers field by field. This test runs that peer against a real server and then
// checks what the peer's events caused here: the uid <-> e-mail link and the webhooks.
//
// The interpreter comes from PBX_PYTHON (default `python3`) and must be able to import
// `tinode_grpc`; if it cannot, the test fails (it never skips).

import AuthPluginKit
import Foundation
import SidecarCore
import Testing

@Suite("pbx.Plugin conformance with tinode-grpc (Python) acting as Tinode")
struct PluginConformanceTests {
    @Test("every RPC answers the official bindings as Tinode expects")
    func pythonPeerAsTinode() async throws {
        let uid = PluginEventTests.randomUID()
        let email = "grace.hopper@navy.mil"
        try await WebhookReceiver.run { receiver, webhookPort in
            let env = pluginEnvironment(
                valkeyURL: try testValkeyURL(),
                [
                    "PLUGIN_LOGIN_ATTEMPTS_PER_MINUTE": "3", "PLUGIN_MAX_PUB_BYTES": "1024", "PLUGIN_CANONICAL_LOGINS": "true",
                    "PLUGIN_FIND_EMAILS": "true", "PLUGIN_WEBHOOK_URLS": "http://127.0.0.1:\(webhookPort)/hook",
                    "PLUGIN_WEBHOOK_SECRET": WebhookDeliveryTests.secret,
                ])
            try await withPluginServer(env) { (harness: PluginHarness) async throws in
                // The e-mail may be linked to another uid by an earlier run against the same Valkey.
                if let old = try await harness.backend.identityLinks.uid(forEmail: email) {
                    _ = try await harness.backend.identityLinks.unlink(uid: old)
                }
                let clientIP = String(uniqueClientAddress().split(separator: ":")[0])
                let otherIP = String(uniqueClientAddress().split(separator: ":")[0])
                let result = try await PythonProcess.run(
                    script: "plugin_peer.py", arguments: ["127.0.0.1:\(harness.port)", clientIP, otherIP, uid])
                #expect(result.status == 0, "\(result.description)")
                #expect(result.stdout.contains("16 passed, 0 failed"), "\(result.description)")

                // The peer's {acc} and Account CREATE linked the account to its e-mail.
                #expect(try await harness.backend.identityLinks.uid(forEmail: email) == uid)
                _ = try await harness.backend.identityLinks.unlink(uid: uid)

                // Its four events arrived as webhooks, with the JSON it sent.
                let received = await receiver.wait { $0.count >= 4 }
                let byType = Dictionary(
                    received.compactMap { webhook in (webhook.json?["type"] as? String).map { ($0, webhook) } },
                    uniquingKeysWith: { first, _ in first })
                #expect(Set(byType.keys) == ["account", "topic", "subscription", "message"])
                let account = try #require(byType["account"]?.json?["data"] as? [String: Any])
                #expect(account["user_id"] as? String == "usr" + uid)
                #expect((account["public"] as? [String: String]) == ["fn": "Grace Hopper", "note": "COBOL"])
                let message = try #require(byType["message"]?.json?["data"] as? [String: Any])
                #expect((message["content"] as? [String: Any])?["txt"] as? String == "First compiler")
                let subscription = try #require(byType["subscription"]?.json?["data"] as? [String: Any])
                #expect((subscription["private"] as? [String: String]) == ["comment": "mine"])
                for webhook in received {
                    #expect(webhook.header("X-Signature") == WebhookDeliveryTests.expectedSignature(webhook.body))
                }
            }
        }
    }
}

/// Runs a Python script next to this file with PBX_PYTHON, with a timeout, capturing its output.
enum PythonProcess {
    static let timeout: Duration = .seconds(120)

    struct Result: Sendable, CustomStringConvertible {
        let command: String
        let status: Int32
        let timedOut: Bool
        let stdout: String
        let stderr: String

        var description: String {
            var text = "`\(command)` " + (timedOut ? "timed out after \(PythonProcess.timeout)" : "exited with status \(status)")
            if status == 3 {
                text += "\nThe interpreter cannot import tinode_grpc: set PBX_PYTHON to a Python that has it (scripts/test makes one)."
            }
            return text + "\n--- stdout:\n\(stdout)\n--- stderr:\n\(stderr)"
        }
    }

    static func run(script: String, arguments: [String]) async throws -> Result {
        let value = ProcessInfo.processInfo.environment["PBX_PYTHON"] ?? ""
        let interpreter = value.isEmpty ? "python3" : value
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(script).path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [interpreter, path] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
        environment["PYTHONIOENCODING"] = "utf-8"
        process.environment = environment
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Both pipes are drained on threads of their own (not the concurrency pool's few threads, which
        // the server under test needs), so a chatty child never blocks on a full pipe.
        let stdoutData = PipeDrain(out.fileHandleForReading)
        let stderrData = PipeDrain(err.fileHandleForReading)
        let deadline = ContinuousClock.now + timeout
        var timedOut = false
        while process.isRunning {
            if ContinuousClock.now >= deadline {
                timedOut = true
                process.terminate()
                break
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        process.waitUntilExit()
        return Result(
            command: ([interpreter, path] + arguments).joined(separator: " "), status: process.terminationStatus, timedOut: timedOut,
            stdout: String(decoding: stdoutData.wait(), as: UTF8.self), stderr: String(decoding: stderrData.wait(), as: UTF8.self))
    }
}

/// Reads a file handle to its end on a dedicated thread.
private final class PipeDrain: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var data = Data()

    init(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in
            data = handle.readDataToEndOfFile()
            done.signal()
        }
    }

    /// The bytes read; call after the process exited (its end of the pipe is then closed).
    func wait() -> Data {
        done.wait()
        return data
    }
}
