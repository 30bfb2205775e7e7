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
/// free loopback port, requires `password`, and persists nothing.
public final class RedisServerProcess: @unchecked Sendable {
    public let port: Int
    public let password: String
    private var process: Process?

    public init(password: String = "child-\(UUID().uuidString.prefix(8))") throws {
        self.port = try freeLoopbackPort()
        self.password = password
    }

    /// `redis://:password@127.0.0.1:port/0`
    public var url: String { "redis://:\(password)@127.0.0.1:\(port)/0" }

    /// Starts the server (again, after ``stop()``, on the same port) and waits until it accepts connections.
    public func start() async throws {
        precondition(process == nil, "server already running")
        let binary = ProcessInfo.processInfo.environment["REDIS_SERVER_BIN"] ?? "redis-server"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            binary, "--port", String(port), "--bind", "127.0.0.1", "--requirepass", password,
            "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", NSTemporaryDirectory(),
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if !process.isRunning {
                self.process = nil
                throw ServerError.exited(binary: binary, status: process.terminationStatus)
            }
            if Self.acceptsConnections(port: port) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        stop()
        throw ServerError.notReady(port: port)
    }

    /// Kills the server and waits until it has exited, so the port is closed when this returns.
    public func stop() {
        guard let process else { return }
        self.process = nil
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
    }

    deinit {
        stop()
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

    private static func acceptsConnections(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
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
