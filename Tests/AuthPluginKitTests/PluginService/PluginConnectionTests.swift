import Foundation
import GRPCCore
import TestSupport
import Testing
import TinodeProto

/// The plugin port's connection deadline (`AUTHPLUGIN_GRPC_IDLE_TIMEOUT_SECONDS`): the allow-list
/// acts on calls, so connections that never call must be closed by the server itself.
@Suite("pbx.Plugin connections", .serialized)
struct PluginConnectionTests {
    /// The client preface of HTTP/2 and an empty SETTINGS frame: what a gRPC client sends first.
    static let http2Preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) + [0, 0, 0, 4, 0, 0, 0, 0, 0]

    @Test("a connection that sends nothing, or only the HTTP/2 preface, is closed after the idle timeout")
    func silentConnectionsClosed() async throws {
        let env = pluginEnvironment(valkeyURL: try testValkeyURL(), ["AUTHPLUGIN_GRPC_IDLE_TIMEOUT_SECONDS": "2"])
        try await withPluginServer(env) { (harness: PluginHarness) async throws in
            for preface in [[], Self.http2Preface] {
                let connection = try RawConnection(port: harness.port)
                let start = ContinuousClock.now
                let closed = try await RawConnection.run {
                    if !preface.isEmpty { connection.send(preface) }
                    return connection.readUntilClosed(timeout: .seconds(12)).closed
                }
                let after = ContinuousClock.now - start
                #expect(closed, "a silent connection (preface: \(!preface.isEmpty)) is still open after 12 s")
                // Not at once: the deadline is the idle timeout (2 s), its keepalive PING at half of it.
                #expect(after >= .milliseconds(900), "closed after \(after), before the idle timeout could run")
            }
        }
    }

    @Test("a live HTTP/2 peer that answers every PING but makes no call gets GOAWAY and the connection ends")
    func idlePeerGetsGoAway() async throws {
        let env = pluginEnvironment(valkeyURL: try testValkeyURL(), ["AUTHPLUGIN_GRPC_IDLE_TIMEOUT_SECONDS": "2"])
        try await withPluginServer(env) { (harness: PluginHarness) async throws in
            let connection = try RawConnection(port: harness.port)
            let (goAway, closed) = try await RawConnection.run { () -> (Bool, Bool) in
                connection.send(Self.http2Preface)
                var pending: [UInt8] = []
                var goAway = false
                let deadline = ContinuousClock.now + .seconds(12)
                while ContinuousClock.now < deadline {
                    switch connection.receive(timeout: .milliseconds(200)) {
                    case .closed: return (goAway, true)
                    case .timedOut: continue
                    case .bytes(let bytes): pending += bytes
                    }
                    // Frames: 3 bytes length, type, flags, 4 bytes stream id, payload.
                    while pending.count >= 9 {
                        let length = Int(pending[0]) << 16 | Int(pending[1]) << 8 | Int(pending[2])
                        guard pending.count >= 9 + length else { break }
                        let (type, flags) = (pending[3], pending[4])
                        let payload = Array(pending[9..<(9 + length)])
                        pending.removeFirst(9 + length)
                        if type == 4, flags & 1 == 0 { connection.send([0, 0, 0, 4, 1, 0, 0, 0, 0]) }  // SETTINGS ack
                        if type == 6, flags & 1 == 0 { connection.send([0, 0, 8, 6, 1, 0, 0, 0, 0] + payload) }  // PING ack
                        if type == 7 { goAway = true }
                    }
                }
                return (goAway, false)
            }
            // Answering the keepalive PINGs keeps the silent-connection deadline away: what ends
            // this connection is gRPC's idle limit, with a GOAWAY first.
            #expect(goAway, "no GOAWAY for an idle peer")
            #expect(closed, "an idle peer's connection is still open after 12 s")
        }
    }

    @Test("a peer that keeps sending PINGs but never calls and never answers the server's PING is closed")
    func chattyPeerClosed() async throws {
        let env = pluginEnvironment(valkeyURL: try testValkeyURL(), ["AUTHPLUGIN_GRPC_IDLE_TIMEOUT_SECONDS": "2"])
        try await withPluginServer(env) { (harness: PluginHarness) async throws in
            let connection = try RawConnection(port: harness.port)
            let start = ContinuousClock.now
            let closed = try await RawConnection.run { () -> Bool in
                connection.send(Self.http2Preface)
                let deadline = ContinuousClock.now + .seconds(12)
                var nextPing = ContinuousClock.now
                while ContinuousClock.now < deadline {
                    // A PING of its own every 250 ms (NIO's limit on control frames is 200 in 30 s):
                    // frames keep arriving, none of them a call.
                    if ContinuousClock.now >= nextPing {
                        connection.send([0, 0, 8, 6, 0, 0, 0, 0, 0] + [UInt8](repeating: 7, count: 8))
                        nextPing += .milliseconds(250)
                    }
                    if case .closed = connection.receive(timeout: .milliseconds(50)) { return true }
                }
                return false
            }
            // Idle timeout (2 s), then the GOAWAY's PING goes unanswered for its timeout (2 s).
            #expect(closed, "a peer that sends frames but never calls is still connected after 12 s")
            #expect(ContinuousClock.now - start >= .milliseconds(1900), "closed before the idle timeout, by something else")
        }
    }

    @Test("a caller that was idle past the timeout is let go cleanly and its next call succeeds")
    func idleCallerReconnects() async throws {
        let env = pluginEnvironment(valkeyURL: try testValkeyURL(), ["AUTHPLUGIN_GRPC_IDLE_TIMEOUT_SECONDS": "1"])
        try await withPluginServer(env) { (harness: PluginHarness) async throws in
            let hello = Pbx_ClientReq.with { $0.msg = .with { $0.hi = .with { $0.id = "1" } } }
            #expect(try await harness.plugin.fireHose(hello).status == .continue)
            // Past the idle timeout and the keepalive timeout: the server has closed the connection.
            try await Task.sleep(for: .seconds(3))
            #expect(try await harness.plugin.fireHose(hello).status == .continue)
        }
    }

    @Test("the idle timeout is read from its setting and checked")
    func setting() async throws {
        let configured = try await configuration(
            pluginEnvironment(valkeyURL: try testValkeyURL(), ["AUTHPLUGIN_GRPC_IDLE_TIMEOUT_SECONDS": "45"]))
        #expect(configured.authPluginGRPCIdleTimeout == .seconds(45))
        let defaulted = try await configuration(pluginEnvironment(valkeyURL: try testValkeyURL()))
        #expect(defaulted.authPluginGRPCIdleTimeout == .seconds(300))
        await #expect(throws: (any Error).self) {
            _ = try await configuration(pluginEnvironment(valkeyURL: try testValkeyURL(), ["AUTHPLUGIN_GRPC_IDLE_TIMEOUT_SECONDS": "0"]))
        }
    }
}
