import Foundation
import GRPCCore
import SidecarServer
import SwiftProtobuf
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
        let env = pluginEnvironment(valkeyURL: try testValkeyURL(), ["AUTHPLUGIN_GRPC_IDLE_TIMEOUT_SECONDS": "2"])
        try await withPluginServer(env) { (harness: PluginHarness) async throws in
            let hello = Pbx_ClientReq.with { $0.msg = .with { $0.hi = .with { $0.id = "1" } } }
            #expect(try await harness.plugin.fireHose(hello).status == .continue)
            // The server lets the idle connection go at about 2 s. grpc-swift's client dials again at
            // once, and that new, idle connection is let go at about 4 s: the call at 3 s falls between
            // the two with a second to spare either side (with a 1 s timeout and 3 s here, it met the
            // second close and was refused).
            try await Task.sleep(for: .seconds(3))
            // grpc-go, Tinode's client, waits while its channel connects; so does this call, bounded.
            var options = CallOptions.defaults
            options.waitForReady = true
            options.timeout = .seconds(10)
            #expect(try await harness.plugin.fireHose(hello, options: options).status == .continue)
        }
    }

    // MARK: - Control frames (issue 18): Tinode's grpc-go client pings after nearly every answer

    /// What a caller saw on one connection.
    struct PeerOutcome: Sendable {
        var answered = 0
        /// Answers whose trailers said `grpc-status: 0` and whose message was FireHose's CONTINUE.
        var continued = 0
        var pingsSent = 0
        var pingAcks = 0
        var goAway: RawHTTP2Peer.GoAway?
        var closed = false
        /// How long the ping flood lasted until the GOAWAY, or the calls until the last answer.
        var elapsed = Duration.zero
    }

    /// `{hi}`: answered CONTINUE on the event loop, without Valkey.
    static let hello: [UInt8] = try! Pbx_ClientReq.with { $0.msg = .with { $0.hi = .with { $0.id = "1" } } }.serializedBytes()

    /// The count of connections the plugin port cut for a control-frame flood (process-wide).
    static func floodsCounted() -> Double {
        var buffer: [UInt8] = []
        Observability.registry.emit(into: &buffer)
        let prefix = #"authplugin_plugin_connections_cut_total{reason="control_frame_flood"} "#
        for line in String(decoding: buffer, as: UTF8.self).split(separator: "\n") where line.hasPrefix(prefix) {
            return Double(line.dropFirst(prefix.count)) ?? 0
        }
        return 0
    }

    /// One FireHose `{hi}` call on `peer`, read to its end. With `pingAfterData`, behaves like grpc-go:
    /// a PING when a DATA frame arrives and none of its PINGs is unanswered, and waits for that ACK
    /// before returning (so every answer draws a PING). False when the connection ended or stalled.
    static func fireHose(on peer: RawHTTP2Peer, pingAfterData: Bool, _ outcome: inout PeerOutcome) -> Bool {
        let stream = peer.call("/pbx.Plugin/FireHose", message: hello)
        var pingOutstanding: [UInt8]?
        var ended = false
        var status: String?
        var message: [UInt8] = []
        while !ended || pingOutstanding != nil {
            guard let frame = peer.nextFrame(timeout: .seconds(10)), peer.goAway == nil else { return false }
            switch frame.type {
            case RawHTTP2Peer.data where frame.streamID == stream:
                message += frame.payload
                if pingAfterData, pingOutstanding == nil {
                    pingOutstanding = RawHTTP2Peer.pingData(UInt64(outcome.pingsSent))
                    peer.sendPing(UInt64(outcome.pingsSent))
                    outcome.pingsSent += 1
                }
                ended = ended || frame.endStream
            case RawHTTP2Peer.headers where frame.streamID == stream:
                if let value = frame.headers?.first(name: "grpc-status") { status = value }
                ended = ended || frame.endStream
            case RawHTTP2Peer.ping where frame.isAck:
                if frame.payload == pingOutstanding {
                    outcome.pingAcks += 1
                    pingOutstanding = nil
                }
            default:
                break
            }
        }
        outcome.answered += 1
        if status == "0", message.count >= 5, (try? Pbx_ServerResp(serializedBytes: Array(message.dropFirst(5))))?.status == .continue {
            outcome.continued += 1
        }
        return true
    }

    /// PINGs one at a time, each waiting for its ACK, until the server sends GOAWAY or closes (at
    /// most `limit`); then waits up to 5 s for the close.
    static func pingUntilCutOff(_ peer: RawHTTP2Peer, limit: Int, _ outcome: inout PeerOutcome) {
        let start = ContinuousClock.now
        pinging: while outcome.pingsSent < limit, peer.goAway == nil, !peer.closed {
            let data = RawHTTP2Peer.pingData(UInt64(outcome.pingsSent))
            peer.sendPing(UInt64(outcome.pingsSent))
            outcome.pingsSent += 1
            while let frame = peer.nextFrame(timeout: .seconds(10)) {
                if peer.goAway != nil { break pinging }
                if frame.type == RawHTTP2Peer.ping, frame.isAck, frame.payload == data {
                    outcome.pingAcks += 1
                    continue pinging
                }
            }
            break  // closed, or no answer within 10 s
        }
        outcome.elapsed = ContinuousClock.now - start
        outcome.goAway = peer.goAway
        outcome.closed = peer.waitForClose(timeout: .seconds(5))
    }

    @Test("a caller that pings after every answer, as Tinode's grpc-go client does, keeps its connection for 1,000 calls")
    func pingPerAnswerNotCutOff() async throws {
        let floodsBefore = Self.floodsCounted()
        try await withPluginServer(pluginEnvironment(valkeyURL: try testValkeyURL())) { (harness: PluginHarness) async throws in
            let outcome = try await RawConnection.run { () -> PeerOutcome in
                let peer = try RawHTTP2Peer(port: harness.port)
                peer.start()
                var outcome = PeerOutcome()
                let start = ContinuousClock.now
                for _ in 0..<1_000 {
                    guard Self.fireHose(on: peer, pingAfterData: true, &outcome) else { break }
                }
                outcome.elapsed = ContinuousClock.now - start
                // Still open: one more call without a PING is answered.
                _ = Self.fireHose(on: peer, pingAfterData: false, &outcome)
                outcome.goAway = peer.goAway
                outcome.closed = peer.closed
                return outcome
            }
            #expect(outcome.goAway == nil, "the server sent GOAWAY \(String(describing: outcome.goAway)) after \(outcome.answered) calls")
            #expect(!outcome.closed, "the server closed the connection after \(outcome.answered) calls")
            #expect(outcome.answered == 1_001)
            #expect(outcome.continued == 1_001, "calls answered with grpc-status 0 and CONTINUE")
            #expect(outcome.pingsSent == 1_000 && outcome.pingAcks == 1_000)
            // Far beyond NIO's default of 200 control frames per 30 s: the rule that cut Tinode off.
            #expect(outcome.elapsed < .seconds(30), "1,000 calls took \(outcome.elapsed): too slow to test the 30 s window")
        }
        #expect(Self.floodsCounted() == floodsBefore)
    }

    @Test("a peer that pings without calling gets GOAWAY ENHANCE_YOUR_CALM after about 200 PINGs, and is closed")
    func pingFloodCutOff() async throws {
        let floodsBefore = Self.floodsCounted()
        try await withPluginServer(pluginEnvironment(valkeyURL: try testValkeyURL())) { (harness: PluginHarness) async throws in
            let outcome = try await RawConnection.run { () -> PeerOutcome in
                let peer = try RawHTTP2Peer(port: harness.port)
                peer.start()
                var outcome = PeerOutcome()
                Self.pingUntilCutOff(peer, limit: 2_000, &outcome)
                return outcome
            }
            #expect(outcome.goAway?.errorCode == RawHTTP2Peer.enhanceYourCalm, "GOAWAY: \(String(describing: outcome.goAway))")
            #expect(outcome.goAway?.lastStreamID == 0, "no stream was opened")
            #expect(outcome.closed, "the connection is still open 5 s after the GOAWAY")
            // 200 unearned frames per 30 s, the peer's SETTINGS and its SETTINGS ACK among them.
            #expect((150...260).contains(outcome.pingsSent), "cut off after \(outcome.pingsSent) PINGs in \(outcome.elapsed)")
        }
        #expect(Self.floodsCounted() - floodsBefore == 1)
    }

    @Test("a peer that makes a few calls, then pings far more often than it was answered, is cut off")
    func pingsBeyondAnswersCutOff() async throws {
        let floodsBefore = Self.floodsCounted()
        try await withPluginServer(pluginEnvironment(valkeyURL: try testValkeyURL())) { (harness: PluginHarness) async throws in
            let outcome = try await RawConnection.run { () -> PeerOutcome in
                let peer = try RawHTTP2Peer(port: harness.port)
                peer.start()
                var outcome = PeerOutcome()
                for _ in 0..<50 {
                    guard Self.fireHose(on: peer, pingAfterData: false, &outcome) else { break }
                }
                Self.pingUntilCutOff(peer, limit: 2_000, &outcome)
                return outcome
            }
            #expect(outcome.answered == 50 && outcome.continued == 50)
            #expect(outcome.goAway?.errorCode == RawHTTP2Peer.enhanceYourCalm, "GOAWAY: \(String(describing: outcome.goAway))")
            #expect(outcome.goAway?.lastStreamID == 99, "the GOAWAY names the last call served")
            #expect(outcome.closed, "the connection is still open 5 s after the GOAWAY")
            // The 50 answers earned 50 PINGs; the allowance of 200 covers about as many again.
            #expect((200...310).contains(outcome.pingsSent), "cut off after \(outcome.pingsSent) PINGs in \(outcome.elapsed)")
        }
        #expect(Self.floodsCounted() - floodsBefore == 1)
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
