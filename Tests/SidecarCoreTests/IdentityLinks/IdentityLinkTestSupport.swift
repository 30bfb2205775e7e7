import Foundation
import Valkey

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A fresh Tinode uid as Tinode writes it after `usr`: 11 characters of base64url.
func makeTinodeUID() -> String {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    return String((0..<11).map { _ in alphabet.randomElement()! })
}

/// A fresh, already normalised e-mail address.
func makeLinkEmail(domain: String = "example.com") -> String {
    "user-\(UUID().uuidString.lowercased())@\(domain)"
}

/// A redis-server started by one test for itself, so that the test can stop it without disturbing the
/// shared server behind `VALKEY_TEST_URL`.
///
/// It runs in the foreground as a child process with a random password and persists nothing. The binary
/// is `REDIS_SERVER_BIN` when set (scripts/test exports it), else `redis-server` from the `PATH`.
final class PrivateLinkTestServer {
    let configuration: ValkeyConfiguration
    private let process: Process

    private init(configuration: ValkeyConfiguration, process: Process) {
        self.configuration = configuration
        self.process = process
    }

    deinit { stop() }

    /// Starts a server on a random port below the kernel's ephemeral range, trying other ports when one is
    /// taken, and returns once it answers `PING`.
    static func start() async throws -> PrivateLinkTestServer {
        let binary = ProcessInfo.processInfo.environment["REDIS_SERVER_BIN"] ?? "redis-server"
        let password = "private-\(UUID().uuidString)"
        for _ in 0..<8 {
            let port = Int.random(in: 20_000..<32_000)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [
                binary, "--port", String(port), "--bind", "127.0.0.1", "--requirepass", password,
                "--save", "", "--appendonly", "no", "--daemonize", "no",
            ]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            let configuration = ValkeyConfiguration(
                host: "127.0.0.1", port: port, password: password, connectTimeout: .seconds(1))
            let server = PrivateLinkTestServer(configuration: configuration, process: process)
            if await server.answers() { return server }
            server.stop()
        }
        throw PrivateServerError(binary: binary)
    }

    /// Kills the server and waits for it to exit, so its port refuses connections afterwards.
    ///
    /// `SIGKILL`, not `SIGTERM`: the child inherits the test runner's signal mask, in which `SIGTERM` is
    /// blocked, so a polite stop would stay pending forever.
    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// Polls with `PING` for up to ten seconds; `false` as soon as the process exits (its port was taken).
    private func answers() async -> Bool {
        let probe = ValkeyClient(configuration: configuration)
        let deadline = ContinuousClock.now + .seconds(10)
        var answered = false
        while !answered, process.isRunning, ContinuousClock.now < deadline {
            answered = (try? await probe.ping()) != nil
            if !answered { try? await Task.sleep(for: .milliseconds(25)) }
        }
        await probe.shutdown()
        return answered && process.isRunning
    }

    struct PrivateServerError: Error, CustomStringConvertible {
        let binary: String
        var description: String {
            "could not start \(binary) for a private test server; set REDIS_SERVER_BIN to a redis-server binary"
        }
    }
}
