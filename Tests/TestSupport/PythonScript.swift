import Foundation

/// Runs a Python script with the interpreter in `PBX_PYTHON` (default `python3`), with a timeout,
/// capturing both output streams: the wire-compatibility peers that use Tinode's official bindings.
public enum PythonScript {
    /// How a script run ended, with everything it wrote.
    public struct Result: Sendable, CustomStringConvertible {
        public let command: String
        public let status: Int32
        public let timedOut: Bool
        public let timeout: Duration
        public let stdout: String
        public let stderr: String

        public var description: String {
            var text = "`\(command)` " + (timedOut ? "timed out after \(timeout)" : "exited with status \(status)")
            if status == 3 {
                text += "\nThe interpreter cannot import tinode_grpc: set PBX_PYTHON to a Python that has it"
                text += " (scripts/test makes one: python3 -m venv .venv-test && .venv-test/bin/pip install tinode-grpc)."
            }
            return text + "\n--- stdout:\n\(stdout)\n--- stderr:\n\(stderr)"
        }
    }

    public static var interpreter: String {
        let value = ProcessInfo.processInfo.environment["PBX_PYTHON"] ?? ""
        return value.isEmpty ? "python3" : value
    }

    /// Runs `PBX_PYTHON script ARGS...`; a run past `timeout` is terminated and says so.
    public static func run(_ script: URL, arguments: [String], timeout: Duration) async throws -> Result {
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
        environment["PYTHONIOENCODING"] = "utf-8"
        // Both pipes are drained on threads of their own (not the concurrency pool's few threads, which
        // a server under test needs), so a chatty child never blocks on a full pipe.
        let process = try ChildProcess(
            executable: "/usr/bin/env", arguments: [interpreter, script.path] + arguments, environment: environment, output: .capture)
        let deadline = ContinuousClock.now + timeout
        var timedOut = false
        while process.isRunning {
            if ContinuousClock.now >= deadline {
                timedOut = true
                process.signal(SIGTERM)
                break
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        process.waitUntilExit()
        process.waitForOutput()
        return Result(
            command: ([interpreter, script.path] + arguments).joined(separator: " "), status: process.terminationStatus,
            timedOut: timedOut, timeout: timeout,
            stdout: String(decoding: process.standardOutput, as: UTF8.self),
            stderr: String(decoding: process.standardError, as: UTF8.self))
    }
}
