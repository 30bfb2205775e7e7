import Foundation
import TestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// A Server-Sent Events client on a plain blocking socket that reads only when told to, so that a
/// test can play a client that stops reading. `receiveBuffer` shrinks the socket's receive buffer
/// before connecting, so the kernel stops taking data for it early. Every call blocks: run them
/// through `RawConnection.run`.
final class SSEConnection: @unchecked Sendable {
    struct Event: Equatable {
        var name: String
        var id: Int?
        var data: String
    }

    private let fd: Int32
    /// Bytes of the body read so far that are not a whole chunk yet.
    private var raw: [UInt8] = []
    /// The de-chunked body text not yet parsed into events.
    private var text = ""
    private(set) var status = 0
    private(set) var events: [Event] = []
    private(set) var closedByServer = false
    /// The response's last chunk arrived (the stream ended; the connection may stay open).
    private(set) var responseEnded = false

    init(port: Int, path: String, token: String, lastEventID: String? = nil, receiveBuffer: Int32? = nil) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else {
            Glibc.close(fd)
            throw POSIXError(.ECONNREFUSED)
        }
        self.fd = fd
        var head = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nAuthorization: Bearer \(token)\r\n"
        if let lastEventID { head += "Last-Event-ID: \(lastEventID)\r\n" }
        let bytes = Array((head + "\r\n").utf8)
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    deinit { Glibc.close(fd) }

    /// Closes the client's side.
    func close() {
        shutdown(fd, Int32(SHUT_RDWR))
    }

    /// Reads until the response head arrived; returns its status (0 when none came in time).
    @discardableResult
    func readHead(timeout: Duration = .seconds(10)) -> Int {
        let deadline = ContinuousClock.now + timeout
        while status == 0, ContinuousClock.now < deadline, !closedByServer {
            receive(until: deadline)
        }
        return status
    }

    /// The `error.code` of a refused request's JSON body (nil when none came within `timeout`).
    func readErrorCode(timeout: Duration = .seconds(5)) -> String? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if status != 0, let range = Self.find(Array("\"code\":\"".utf8), in: raw) {
                let rest = raw[(range + 8)...]
                if let end = rest.firstIndex(of: UInt8(ascii: "\"")) { return String(decoding: rest[..<end], as: UTF8.self) }
            }
            if closedByServer { return nil }
            receive(until: deadline)
        }
        return nil
    }

    /// Reads until `count` events arrived in all, the server closed, or `timeout` passed.
    func readEvents(count: Int, timeout: Duration = .seconds(20)) -> [Event] {
        let deadline = ContinuousClock.now + timeout
        while events.count < count, ContinuousClock.now < deadline, !closedByServer {
            receive(until: deadline)
        }
        return events
    }

    /// Reads everything until the server closes the connection or `timeout` passes; true when it closed.
    func readUntilClosed(timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline, !closedByServer {
            receive(until: deadline)
        }
        return closedByServer
    }

    /// Reads until the response ends (its last chunk, or the connection closes) or `timeout` passes;
    /// true when it ended.
    func readUntilEnded(timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline, !closedByServer, !responseEnded {
            receive(until: deadline)
        }
        return closedByServer || responseEnded
    }

    private func receive(until deadline: ContinuousClock.Instant) {
        let left = deadline - ContinuousClock.now
        guard left > .zero else { return }
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let milliseconds = Int32(min(200, left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1))
        guard poll(&descriptor, 1, milliseconds) > 0 else { return }
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else {
            closedByServer = true
            return
        }
        raw += buffer[..<count]
        parse()
    }

    private func parse() {
        if status == 0 {
            guard let end = Self.find([13, 10, 13, 10], in: raw) else { return }
            let head = String(decoding: raw[..<end], as: UTF8.self)
            status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? -1
            raw.removeFirst(end + 4)
        }
        guard status == 200 else { return }  // an error's body stays in `raw` for `readErrorCode`
        // Chunked transfer encoding: "<hex size>\r\n<data>\r\n", one chunk per write of the Gateway.
        while let lineEnd = Self.find([13, 10], in: raw) {
            guard let size = Int(String(decoding: raw[..<lineEnd], as: UTF8.self), radix: 16) else { return }
            guard raw.count >= lineEnd + 2 + size + 2 else { return }
            if size == 0 { responseEnded = true }
            text += String(decoding: raw[(lineEnd + 2)..<(lineEnd + 2 + size)], as: UTF8.self)
            raw.removeFirst(lineEnd + 2 + size + 2)
        }
        while let blockEnd = text.range(of: "\n\n") {
            let block = text[..<blockEnd.lowerBound]
            text.removeSubrange(..<blockEnd.upperBound)
            var event = Event(name: "message", id: nil, data: "")
            var hasData = false
            for line in block.split(separator: "\n") {
                if line.hasPrefix("id: ") { event.id = Int(line.dropFirst(4)) }
                if line.hasPrefix("event: ") { event.name = String(line.dropFirst(7)) }
                if line.hasPrefix("data: ") {
                    event.data = String(line.dropFirst(6))
                    hasData = true
                }
            }
            if hasData { events.append(event) }  // comment lines (": keep-alive") are no events
        }
    }

    private static func find(_ needle: [UInt8], in bytes: [UInt8]) -> Int? {
        guard bytes.count >= needle.count else { return nil }
        for start in 0...(bytes.count - needle.count) where bytes[start] == needle[0] {
            if Array(bytes[start..<(start + needle.count)]) == needle { return start }
        }
        return nil
    }
}
