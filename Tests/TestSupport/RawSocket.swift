import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A plain blocking TCP connection to a loopback port, for requests no HTTP client would send
/// (one byte a second, thousands of headers, 10 MB bodies). Every blocking call runs on a thread of
/// its own (`RawConnection.run`), never on the test's cooperative pool.
public final class RawConnection: @unchecked Sendable {
    private let fd: Int32

    /// What one read found.
    public enum Received: Equatable, Sendable {
        case bytes([UInt8])
        /// The server closed the connection (end of stream or reset).
        case closed
        case timedOut
    }

    public init(port: Int) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard connected else {
            close(fd)
            throw POSIXError(.ECONNREFUSED)
        }
        self.fd = fd
    }

    deinit { close(fd) }

    /// Runs blocking socket work on a thread of its own.
    public static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try work() }) }.start()
        }
    }

    /// Sends everything; false when the server has closed or reset the connection.
    @discardableResult
    public func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { buffer in
                Glibc.send(fd, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL))
            }
            if sent < 0, errno == EINTR { continue }
            guard sent > 0 else { return false }
            offset += sent
        }
        return true
    }

    @discardableResult
    public func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    /// Waits up to `timeout` for bytes.
    public func receive(timeout: Duration) -> Received {
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let milliseconds = Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        let ready = poll(&descriptor, 1, milliseconds)
        guard ready > 0 else { return .timedOut }
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return .closed }
        return .bytes(Array(buffer[..<count]))
    }

    /// Reads until the server closes the connection or `timeout` passes; returns what arrived and
    /// whether the connection was closed.
    public func readUntilClosed(timeout: Duration) -> (bytes: [UInt8], closed: Bool) {
        let deadline = ContinuousClock.now + timeout
        var bytes: [UInt8] = []
        while ContinuousClock.now < deadline {
            switch receive(timeout: min(.milliseconds(200), deadline - ContinuousClock.now)) {
            case .bytes(let more): bytes += more
            case .closed: return (bytes, true)
            case .timedOut: continue
            }
        }
        return (bytes, false)
    }

    /// Reads until a whole HTTP response head (and `Content-Length` body) arrived, the server
    /// closed, or `timeout` passed. Returns the text read so far.
    public func readResponse(timeout: Duration) -> String {
        let deadline = ContinuousClock.now + timeout
        var bytes: [UInt8] = []
        while ContinuousClock.now < deadline {
            if let text = Self.completeResponse(bytes) { return text }
            switch receive(timeout: min(.milliseconds(200), deadline - ContinuousClock.now)) {
            case .bytes(let more): bytes += more
            case .closed: return String(decoding: bytes, as: UTF8.self)
            case .timedOut: continue
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func completeResponse(_ bytes: [UInt8]) -> String? {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let end = text.range(of: "\r\n\r\n") else { return nil }
        let head = text[..<end.lowerBound].lowercased()
        let length =
            head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
            .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
        return text[end.upperBound...].utf8.count >= length ? text : nil
    }
}

/// A loopback port that accepts nothing but counts who connected: where a `jku` or `x5u` header
/// points, to prove that nothing was fetched. The kernel completes connections in the listen
/// backlog without `accept`, so a non-blocking `accept` afterwards finds every attempt.
public final class CountingListener: @unchecked Sendable {
    private let fd: Int32
    public let port: Int

    public init() throws {
        let (fd, port) = try boundLoopbackSocket()
        guard listen(fd, 128) == 0 else {
            close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        self.fd = fd
        self.port = port
    }

    deinit { close(fd) }

    /// Connections made so far (each is accepted and closed, so each counts once).
    public func connectionsSoFar() -> Int {
        var count = 0
        while true {
            let client = accept(fd, nil, nil)
            guard client >= 0 else { return count }
            close(client)
            count += 1
        }
    }

    /// A path on this listener that no other test uses: `fetchesSoFar(of:)` counts the requests for it.
    public let uniquePath = "/keys-\(UInt64.random(in: 0...UInt64.max))"

    /// Connections so far that may be fetches of `uniquePath`: those whose first bytes name it, and
    /// those that sent nothing. Other tests pick free ports to have a closed one to connect to, and
    /// one of them may be this listener's by then; their connections speak another protocol or ask
    /// for another path (a MongoDB hello, an HTTP/2 preface) and are not counted. A client sends its
    /// request as soon as it connects, so the bytes wait in the socket when it is accepted.
    public func fetchesSoFar() -> Int {
        var count = 0
        while true {
            let client = accept(fd, nil, nil)
            guard client >= 0 else { return count }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let read = buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            close(client)
            let text = read > 0 ? String(decoding: buffer[0..<read], as: UTF8.self) : ""
            if read <= 0 || text.contains(uniquePath) { count += 1 }
        }
    }
}

/// Requests no HTTP client library would send, over `RawConnection`: the same checks run against
/// the Gateway and AuthPlugin.
public enum HostileHTTP {
    /// Sends `text` on a fresh connection and reads until the server closes it (at most 30 s):
    /// returns what arrived and whether the server closed the connection.
    public static func request(port: Int, _ text: String) async throws -> (text: String, closed: Bool) {
        try await RawConnection.run {
            let connection = try RawConnection(port: port)
            connection.send(text)
            let (bytes, closed) = connection.readUntilClosed(timeout: .seconds(30))
            return (String(decoding: bytes, as: UTF8.self), closed)
        }
    }

    /// Sends a 10 MB body after `head`, 256 KiB at a time, and returns the response as soon as one
    /// arrives: a server that stops reading at its limit answers long before the body is through.
    /// Also returns how many body bytes were sent by then.
    public static func tenMegabytes(port: Int, head: String, chunked: Bool) async throws -> (response: String, sent: Int) {
        try await RawConnection.run {
            let connection = try RawConnection(port: port)
            connection.send(head)
            let piece = [UInt8](repeating: UInt8(ascii: "a"), count: 256 * 1024)
            var sent = 0
            while sent < 10 * 1024 * 1024 {
                let ok = chunked ? connection.send(Array("40000\r\n".utf8) + piece + Array("\r\n".utf8)) : connection.send(piece)
                if !ok { break }
                sent += piece.count
                if case .bytes(let bytes) = connection.receive(timeout: .milliseconds(50)) {
                    return (String(decoding: bytes, as: UTF8.self) + connection.readResponse(timeout: .seconds(5)), sent)
                }
            }
            return (connection.readResponse(timeout: .seconds(20)), sent)
        }
    }

    /// What happened to a client that sent one byte a second.
    public struct SlowClient: Sendable {
        public let what: String
        public let closed: Bool
        public let after: Duration
        public let bytesTrickled: Int
    }

    /// A request whose headers, and then one whose body, arrive at one byte a second (up to 60 s).
    public static func slowClients(port: Int, path: String) async throws -> [SlowClient] {
        let slowHead = "POST \(path) HTTP/1.1\r\nHost: x\r\nX-Slow: " + String(repeating: "a", count: 60) + "\r\n\r\n"
        let bodyHead = "POST \(path) HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 60\r\n\r\n"
        let plans: [(String, [UInt8], [UInt8])] = [
            ("headers", Array(slowHead.utf8.prefix(20)), Array(slowHead.utf8.dropFirst(20))),
            ("body", Array(bodyHead.utf8), Array(String(repeating: " ", count: 60).utf8)),
        ]
        var outcomes: [SlowClient] = []
        for (what, upfront, trickle) in plans {
            outcomes.append(
                try await RawConnection.run {
                    let connection = try RawConnection(port: port)
                    let started = ContinuousClock.now
                    connection.send(upfront)
                    var sent = 0
                    for byte in trickle {
                        // Any answer (an error, then the close) or the close itself ends the trickle.
                        if connection.receive(timeout: .seconds(1)) != .timedOut || !connection.send([byte]) {
                            return SlowClient(what: what, closed: true, after: ContinuousClock.now - started, bytesTrickled: sent)
                        }
                        sent += 1
                    }
                    return SlowClient(what: what, closed: false, after: ContinuousClock.now - started, bytesTrickled: sent)
                })
        }
        return outcomes
    }

    /// The answers to 5 000 small headers and to one 100 KB header, and whether the server closed
    /// each connection.
    public static func headerFloods(port: Int, path: String) async throws -> [(text: String, closed: Bool)] {
        let many = (0..<5_000).map { "X-Flood-\($0): v\r\n" }.joined()
        return [
            try await request(port: port, "GET \(path) HTTP/1.1\r\nHost: x\r\n\(many)\r\n"),
            try await request(port: port, "GET \(path) HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "b", count: 100_000))\r\n\r\n"),
        ]
    }
}
