import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A redis-server child process of the test itself, for tests that stop, restart or pause the server and
/// must not disturb the shared one.
///
/// The binary comes from `REDIS_SERVER_BIN` (default `redis-server` on the `PATH`). The server listens on a
/// free loopback port and requires `password`. It persists nothing, unless `appendOnly`: then every write
/// is fsynced to an append-only file in a folder of its own, so that a killed and restarted server
/// comes back with its data, like a production Valkey with AOF.
public final class RedisServerProcess: @unchecked Sendable {
    public let port: Int
    public let password: String
    private let dataDirectory: URL?
    private var process: ChildProcess?

    public init(password: String = "child-\(UUID().uuidString.prefix(8))", appendOnly: Bool = false) throws {
        self.port = try freeLoopbackPort()
        self.password = password
        if appendOnly {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("redis-aof-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            dataDirectory = directory
        } else {
            dataDirectory = nil
        }
    }

    /// `redis://:password@127.0.0.1:port/0`
    public var url: String { "redis://:\(password)@127.0.0.1:\(port)/0" }

    /// Starts the server (again, after ``stop()``, on the same port) and waits until it accepts connections.
    public func start() async throws {
        precondition(process == nil, "server already running")
        let binary = ProcessInfo.processInfo.environment["REDIS_SERVER_BIN"] ?? "redis-server"
        let persistence =
            dataDirectory.map { ["--appendonly", "yes", "--appendfsync", "always", "--dir", $0.path] }
            ?? ["--appendonly", "no", "--dir", NSTemporaryDirectory()]
        let process = try ChildProcess(
            executable: "/usr/bin/env",
            arguments: [
                binary, "--port", String(port), "--bind", "127.0.0.1", "--requirepass", password, "--save", "", "--daemonize", "no",
            ]
                + persistence,
            environment: ProcessInfo.processInfo.environment, output: .discard)
        self.process = process
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if !process.isRunning {
                self.process = nil
                throw ServerError.exited(binary: binary, status: process.terminationStatus)
            }
            if loopbackPortAcceptsConnections(port) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        stop()
        throw ServerError.notReady(port: port)
    }

    /// Kills the server and waits until it has exited, so the port is closed when this returns.
    public func stop() {
        guard let process else { return }
        self.process = nil
        process.signal(SIGKILL)
        process.waitUntilExit()
    }

    deinit {
        stop()
        if let dataDirectory { try? FileManager.default.removeItem(at: dataDirectory) }
    }

    enum ServerError: Error, CustomStringConvertible {
        case exited(binary: String, status: Int32)
        case notReady(port: Int)

        var description: String {
            switch self {
            case .exited(let binary, let status):
                "\(binary) exited with status \(status); set REDIS_SERVER_BIN to a redis-server or valkey-server binary"
            case .notReady(let port): "redis-server did not accept connections on port \(port) within 10 s"
            }
        }
    }
}

/// Starts a private server, runs `body`, and kills the server afterwards, also when `body` throws.
public func withRedisServer(_ body: (RedisServerProcess) async throws -> Void) async throws {
    let server = try RedisServerProcess()
    try await server.start()
    do {
        try await body(server)
        server.stop()
    } catch {
        server.stop()
        throw error
    }
}
