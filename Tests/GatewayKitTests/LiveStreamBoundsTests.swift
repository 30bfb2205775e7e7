import Foundation
import Hummingbird
import HummingbirdWSTesting
import SidecarServer
import Synchronization
import TestSupport
import Testing
import TinodeDouble

/// The bounds of live streams over real HTTP, against the Tinode double: replay capped and paged,
/// `Last-Event-ID` range-checked, streams per user capped, a client that stops reading cut off.
@Suite("Live streams: replay cap, pages, per-user cap, slow clients", .timeLimit(.minutes(3)))
struct LiveStreamBoundsTests {
    static func accessToken(_ gateway: GatewayHarness, _ name: String) async throws -> String {
        let (_, tokens) = try await gateway.register(name)
        return try #require(tokens["access_token"] as? String)
    }

    /// Stores `count` messages in the room before anyone listens (a live fan-out of that many at
    /// once would overflow a listening session's send queue in the double, as in Tinode).
    static func seed(_ gateway: GatewayHarness, count: Int, text: (Int) -> String = { "m\($0)" }) throws {
        let owner = try #require(gateway.double.userID(login: "roomowner"))
        for index in 1...count {
            try gateway.double.publish(asUser: owner, topic: gateway.room, content: Data("\"\(text(index))\"".utf8))
        }
    }

    /// Opens an SSE stream and reads its response head.
    static func openStream(
        _ gateway: GatewayHarness, token: String, lastEventID: String? = nil, receiveBuffer: Int32? = nil
    ) async throws -> SSEConnection {
        try await RawConnection.run {
            let connection = try SSEConnection(
                port: gateway.port, path: "/v1/messages/stream", token: token, lastEventID: lastEventID, receiveBuffer: receiveBuffer)
            connection.readHead()
            return connection
        }
    }

    /// A WebSocket upgrade request on a raw connection: the status and the whole answer.
    static func upgrade(_ gateway: GatewayHarness, query: String) async throws -> (status: Int, text: String) {
        let (status, text, _) = try await upgradeKeepingConnection(gateway, query: query)
        return (status, text)
    }

    /// An accepted WebSocket (101) on a raw connection, open until the connection is dropped; nil
    /// when the upgrade was refused.
    static func openWebSocket(_ gateway: GatewayHarness, token: String) async throws -> RawConnection? {
        let (status, _, connection) = try await upgradeKeepingConnection(gateway, query: "access_token=\(token)")
        return status == 101 ? connection : nil
    }

    private static func upgradeKeepingConnection(
        _ gateway: GatewayHarness, query: String
    ) async throws -> (status: Int, text: String, connection: RawConnection) {
        try await RawConnection.run {
            let connection = try RawConnection(port: gateway.port)
            connection.send(
                "GET /v1/ws?\(query) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
            let text = connection.readResponse(timeout: .seconds(10))
            let status = Int(text.split(separator: " ").dropFirst().first ?? "") ?? 0
            return (status, text, connection)
        }
    }

    /// The close code and reason of a WebSocket that the Gateway accepts and closes at once (nil
    /// when it was not accepted, or no close frame came).
    static func closeOfRefusedWebSocket(_ gateway: GatewayHarness, token: String) async throws -> (Int, String)? {
        try await RawConnection.run {
            let connection = try RawConnection(port: gateway.port)
            connection.send(
                "GET /v1/ws?access_token=\(token) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
            var bytes: [UInt8] = []
            let deadline = ContinuousClock.now + .seconds(10)
            while ContinuousClock.now < deadline {
                guard case .bytes(let more) = connection.receive(timeout: .milliseconds(200)) else { continue }
                bytes += more
                // After the 101 head: a close frame (0x88), unmasked, short: code, then the reason.
                guard bytes.starts(with: Array("HTTP/1.1 101".utf8)),
                    let headEnd = (0..<max(bytes.count - 3, 0)).first(where: { bytes[$0..<($0 + 4)].elementsEqual([13, 10, 13, 10]) })
                else { continue }
                let frame = Array(bytes[(headEnd + 4)...])
                guard frame.count >= 2, frame[0] == 0x88, frame.count >= 2 + Int(frame[1]), frame[1] >= 2 else { continue }
                let code = Int(frame[2]) << 8 | Int(frame[3])
                return (code, String(decoding: frame[4..<(2 + Int(frame[1]))], as: UTF8.self))
            }
            return nil
        }
    }

    static func json(_ text: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? [:]
    }

    /// `gateway_live_subscribers_cut_off_total` in this process (every Gateway of the tests adds to it).
    static func cutOffs() -> Double {
        var buffer: [UInt8] = []
        Observability.registry.emit(into: &buffer)
        let line = String(decoding: buffer, as: UTF8.self).split(separator: "\n").first {
            $0.hasPrefix("gateway_live_subscribers_cut_off_total")
        }
        return line.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) } ?? 0
    }

    @Test("SSE resumed from 0 in a room of 1,100: a reset, then exactly the newest 1,000 in order, in pages Tinode's send queue takes")
    func replayCapped() async throws {
        var options = TinodeDouble.Options()
        // A page lands in the session's send queue at once: pages of 100 would overflow this one
        // (and end the session, as Tinode does); pages of 50 fit.
        options.sendQueueLimit = 80
        try await GatewayHarness.run(options: options) { gateway in
            try Self.seed(gateway, count: 1100)
            let token = try await Self.accessToken(gateway, "replayer")
            let queriesBefore = gateway.double.dataQueryLimits.count
            let connection = try await Self.openStream(gateway, token: token, lastEventID: "0")
            #expect(connection.status == 200)
            let events = try await RawConnection.run { connection.readEvents(count: 1001, timeout: .seconds(90)) }
            try #require(events.count == 1001, "\(events.count) events")
            #expect(events[0].name == "reset")
            #expect(events[0].id == 100)  // a reconnect right after it resumes from there
            let reset = Self.json(events[0].data)
            #expect(reset["from_seq"] as? Int == 101)
            #expect(reset["last_event_id"] as? Int == 0)
            #expect(reset["latest_seq"] as? Int == 1100)
            #expect(reset["reason"] as? String == "replay_limit")
            let replayed = events.dropFirst()
            #expect(replayed.allSatisfy { $0.name == "message" })
            #expect(replayed.map(\.id) == Array(101...1100).map { Optional($0) })
            #expect(replayed.first?.data.contains(#""text":"m101""#) == true)
            let pages = Array(gateway.double.dataQueryLimits.dropFirst(queriesBefore))
            #expect(pages.count == 20, "\(pages)")
            #expect(pages.allSatisfy { $0 <= 50 }, "\(pages)")
            // And it goes live after the replay, without a gap.
            _ = try await gateway.request(.post, "/v1/messages", json: ["text": "after"], token: token)
            let more = try await RawConnection.run { connection.readEvents(count: 1002, timeout: .seconds(10)) }
            #expect(more.last?.id == 1101)
        }
    }

    @Test("WebSocket resumed from 0 beyond GATEWAY_MAX_REPLAY: a reset frame, the newest N in order, then live")
    func webSocketReplayCapped() async throws {
        try await GatewayHarness.run(extraEnvironment: ["GATEWAY_MAX_REPLAY": "60"]) { gateway in
            try Self.seed(gateway, count: 150)
            let token = try await Self.accessToken(gateway, "wsreplayer")
            let frames = Mutex<[String]>([])
            let poster = Task {
                for _ in 0..<200 where frames.withLock({ $0.count }) < 61 { try await Task.sleep(for: .milliseconds(20)) }
                _ = try await gateway.request(.post, "/v1/messages", json: ["text": "live"], token: token)
            }
            try await gateway.client.ws("/v1/ws?access_token=\(token)&last_event_id=0") { inbound, _, _ in
                for try await message in inbound.messages(maxSize: 1 << 16) {
                    guard case .text(let text) = message else { continue }
                    let count = frames.withLock { frames in
                        frames.append(text)
                        return frames.count
                    }
                    if count == 62 { break }
                }
            }
            try await poster.value
            let received = frames.withLock { $0 }.map(Self.json)
            try #require(received.count == 62)
            #expect(received[0]["type"] as? String == "reset")
            #expect(received[0]["from_seq"] as? Int == 91)
            #expect(received[0]["last_event_id"] as? Int == 0)
            #expect(received[0]["latest_seq"] as? Int == 150)
            let seqs = received.dropFirst().compactMap { ($0["message"] as? [String: Any])?["seq"] as? Int }
            #expect(seqs == Array(91...151))
        }
    }

    @Test(
        "Last-Event-ID and last_event_id outside 0...2^31-1, or not a number, are 400 (invalid_request; a WebSocket upgrade gets a bare 400)"
    )
    func badLastEventIDs() async throws {
        try await GatewayHarness.run { gateway in
            let token = try await Self.accessToken(gateway, "badids")
            for bad in ["-1", "abc", "1.5", "+3", "2147483648", "99999999999999999999999"] {
                let header = try await gateway.request(.get, "/v1/messages/stream", token: token, headers: [.init("Last-Event-ID")!: bad])
                #expect(header.status == 400, "Last-Event-ID \(bad)")
                #expect(header.errorCode == "invalid_request")
                let encoded = bad.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? bad
                let query = try await gateway.request(.get, "/v1/messages/stream?last_event_id=\(encoded)", token: token)
                #expect(query.status == 400, "?last_event_id=\(bad)")
                let plain = try await gateway.request(.get, "/v1/ws?last_event_id=\(encoded)", token: token)
                #expect(plain.status == 400, "/v1/ws?last_event_id=\(bad)")
                let upgrade = try await Self.upgrade(gateway, query: "access_token=\(token)&last_event_id=\(encoded)")
                // A refused upgrade: the WebSocket library's bare 400.
                #expect(upgrade.status == 400, "upgrade with last_event_id=\(bad): \(upgrade.text)")
            }
            // The largest seq is taken (nothing replayed); an empty id means none.
            for good in ["2147483647", ""] {
                let connection = try await Self.openStream(gateway, token: token, lastEventID: good)
                #expect(connection.status == 200, "Last-Event-ID '\(good)'")
                connection.close()
            }
        }
    }

    @Test(
        "beyond GATEWAY_MAX_STREAMS_PER_USER (SSE and WebSocket together): 429 too_many_streams, a WebSocket closed with 1008; others unaffected; places free again"
    )
    func streamsPerUserCapped() async throws {
        try await GatewayHarness.run(extraEnvironment: ["GATEWAY_MAX_STREAMS_PER_USER": "2"]) { gateway in
            let token = try await Self.accessToken(gateway, "streamer")
            let otherToken = try await Self.accessToken(gateway, "neighbour")
            let first = try await Self.openStream(gateway, token: token)
            #expect(first.status == 200)
            var socket = try await Self.openWebSocket(gateway, token: token)
            #expect(socket != nil)

            let third = try await Self.openStream(gateway, token: token)
            #expect(third.status == 429)
            #expect(try await RawConnection.run { third.readErrorCode() } == "too_many_streams")
            // A WebSocket beyond the limit is accepted and closed at once with 1008 and the reason (a
            // refused upgrade could only be a bare 400); a plain GET gets the 429.
            let close = try await Self.closeOfRefusedWebSocket(gateway, token: token)
            #expect(close?.0 == 1008)
            #expect(close?.1 == "too_many_streams")
            let plain = try await gateway.request(.get, "/v1/ws", token: token)
            #expect(plain.status == 429)
            #expect(plain.errorCode == "too_many_streams")
            let neighbour = try await Self.openStream(gateway, token: otherToken)
            #expect(neighbour.status == 200)

            // A WebSocket that closes frees its place at once.
            socket = nil
            var second: SSEConnection?
            for _ in 0..<50 where second == nil {
                let candidate = try await Self.openStream(gateway, token: token)
                if candidate.status == 200 { second = candidate } else { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(second != nil)
            // An SSE client that leaves frees its place when the Gateway next writes to it.
            first.close()
            var replacement: SSEConnection?
            for attempt in 0..<50 where replacement == nil {
                _ = try await gateway.request(.post, "/v1/messages", json: ["text": "nudge \(attempt)"], token: otherToken)
                let candidate = try await Self.openStream(gateway, token: token)
                if candidate.status == 200 { replacement = candidate } else { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(replacement != nil)
            withExtendedLifetime((neighbour, second)) {}
        }
    }

    @Test(
        "an SSE client that stops reading is cut off and counted, its connection closed and its place freed; it resumes with Last-Event-ID")
    func slowClientCutOff() async throws {
        var options = TinodeDouble.Options()
        options.sendQueueLimit = 1_000_000  // the test's bulk publishing must not end the reader's Tinode session
        try await GatewayHarness.run(
            extraEnvironment: ["GATEWAY_LIVE_BUFFER": "8", "GATEWAY_MAX_STREAMS_PER_USER": "1"], options: options
        ) { gateway in
            let token = try await Self.accessToken(gateway, "sleeper")
            let before = Self.cutOffs()
            // A tiny receive buffer, and nothing read after the head: the client's window closes at once.
            let connection = try await Self.openStream(gateway, token: token, receiveBuffer: 2048)
            #expect(connection.status == 200)
            let owner = try #require(gateway.double.userID(login: "roomowner"))
            let padding = String(repeating: "x", count: 8000)
            var published = 0
            // 8 KB a message: the kernel's buffers and NIO's take a few MB at most.
            for index in 1...1500 where Self.cutOffs() < before + 1 {
                try gateway.double.publish(asUser: owner, topic: gateway.room, content: Data("\"\(index) \(padding)\"".utf8))
                published = index
                if index % 25 == 0 { try await Task.sleep(for: .milliseconds(5)) }
            }
            for _ in 0..<200 where Self.cutOffs() < before + 1 { try await Task.sleep(for: .milliseconds(50)) }
            #expect(Self.cutOffs() >= before + 1)
            // The Gateway closed the connection: what was in flight drains, then the end.
            let closed = try await RawConnection.run { connection.readUntilClosed(timeout: .seconds(30)) }
            #expect(closed)
            let received = connection.events.compactMap(\.id)
            #expect(received.count < published)
            #expect(received == (0..<received.count).map { $0 + 1 })
            // Its place is free again (the limit is 1), and it resumes right after what it got.
            let last = received.last ?? 0
            let resumed = try await Self.openStream(gateway, token: token, lastEventID: String(last))
            #expect(resumed.status == 200)
            let next = try await RawConnection.run { resumed.readEvents(count: 1, timeout: .seconds(10)) }
            #expect(next.first?.id == last + 1)
        }
    }
}
