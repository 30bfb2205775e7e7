import Foundation
import TestSupport

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// One of the built programs, started as a real process with its own environment.
final class ProgramProcess: @unchecked Sendable {
    let process: ChildProcess

    /// The folder that holds the test bundle also holds the built executables.
    static var productsDirectory: URL {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [bundle, bundle.deletingLastPathComponent()] {
            if FileManager.default.isExecutableFile(atPath: candidate.appendingPathComponent("AuthPlugin").path) {
                return candidate
            }
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(".build/debug")
    }

    init(_ program: String, arguments: [String] = [], environment: [String: String]) throws {
        var env = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"]
        env["SIDECAR_SECRETS_DIR"] = "/nonexistent-sidecar-secrets"
        env.merge(environment) { $1 }
        process = try ChildProcess(
            executable: Self.productsDirectory.appendingPathComponent(program).path, arguments: arguments, environment: env,
            output: .capture)
    }

    var standardError: String { String(decoding: process.standardError, as: UTF8.self) }
    var standardOutput: String { String(decoding: process.standardOutput, as: UTF8.self) }

    /// Waits for the process to end; kills it and returns nil after `timeout`.
    func waitForExit(timeout: Duration = .seconds(15)) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now > deadline {
                process.signal(SIGKILL)
                return nil
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        // Let the pipes drain.
        try? await Task.sleep(for: .milliseconds(100))
        return process.terminationStatus
    }

    func signal(_ signal: Int32) { process.signal(signal) }
}

/// GETs `url` and returns the status and body, or nil while nothing answers.
func httpGet(_ url: String, timeout: TimeInterval = 2) async -> (status: Int, body: String)? {
    var request = URLRequest(url: URL(string: url)!)
    request.timeoutInterval = timeout
    guard let (data, response) = try? await URLSession.shared.data(for: request),
        let http = response as? HTTPURLResponse
    else { return nil }
    return (http.statusCode, String(decoding: data, as: UTF8.self))
}

/// Polls `url` until it answers, for at most `timeout`.
func waitUntilServing(_ url: String, timeout: Duration = .seconds(20)) async -> (status: Int, body: String)? {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if let answer = await httpGet(url) { return answer }
        try? await Task.sleep(for: .milliseconds(100))
    }
    return nil
}

extension ProgramProcess {
    /// Starts `program` on free loopback ports (`environment` builds its variables from the HTTP and
    /// gRPC port) and waits until it serves `/healthz`. A free port can be taken by another test's
    /// connection between the check and the program's bind, most often while the whole suite runs in
    /// parallel; a start that fails with "Address already in use" is tried again on new ports, at most
    /// three times. Returns the process, its ports and the first health answer (nil if it never came).
    static func startServing(
        _ program: String, environment: (_ port: Int, _ grpcPort: Int) -> [String: String]
    ) async throws -> (process: ProgramProcess, port: Int, grpcPort: Int, health: (status: Int, body: String)?) {
        var attempt = 0
        while true {
            attempt += 1
            let port = try freeLoopbackPort()
            let grpcPort = try freeLoopbackPort()
            let process = try ProgramProcess(program, environment: environment(port, grpcPort))
            let deadline = ContinuousClock.now + .seconds(20)
            var health: (status: Int, body: String)?
            while health == nil, process.process.isRunning, ContinuousClock.now < deadline {
                health = await httpGet("http://127.0.0.1:\(port)/healthz")
                if health == nil { try? await Task.sleep(for: .milliseconds(100)) }
            }
            if health == nil, !process.process.isRunning, attempt < 3, process.standardError.contains("Address already in use") {
                continue
            }
            return (process, port, grpcPort, health)
        }
    }
}
