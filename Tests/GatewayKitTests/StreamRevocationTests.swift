import Foundation
import Hummingbird
import HummingbirdTesting
import TestSupport
import Testing
import TinodeDouble

@testable import GatewayKit

/// A live stream lives as long as its access token works: logout, logout-all (on any instance,
/// through Valkey pub/sub), a refresh that retires the token, and the token's expiry end it with
/// a final `revoked` event (SSE) or close code 4001 (WebSocket).
@Suite("Live streams end with their token", .timeLimit(.minutes(2)))
struct StreamRevocationTests {
    static func accessToken(_ tokens: [String: Any]) throws -> String {
        try #require(tokens["access_token"] as? String)
    }

    static func reason(_ event: SSEConnection.Event?) -> String? {
        guard let event, event.name == "revoked" else { return nil }
        return LiveStreamBoundsTests.json(event.data)["reason"] as? String
    }

    /// Reads until the server ends the stream (at most `timeout`); returns whether it ended, and its events.
    static func finalEvents(_ stream: SSEConnection, timeout: Duration) async throws -> (closed: Bool, events: [SSEConnection.Event]) {
        try await RawConnection.run {
            let closed = stream.readUntilEnded(timeout: timeout)
            return (closed, stream.events)
        }
    }

    @Test("logout ends the SSE stream of that login with `revoked`; the stream of the user's other login goes on")
    func logoutEndsItsStream() async throws {
        try await GatewayHarness.run(extraEnvironment: ["GATEWAY_STREAM_RECHECK_SECONDS": "3600"]) { gateway in
            let (email, first) = try await gateway.register("sse-logout")
            let other = try await RevocationTests.login(gateway, email)
            let stream = try await LiveStreamBoundsTests.openStream(gateway, token: try Self.accessToken(first))
            let otherStream = try await LiveStreamBoundsTests.openStream(gateway, token: try Self.accessToken(other))
            #expect(stream.status == 200 && otherStream.status == 200)
            let logout = try await gateway.request(.post, "/v1/auth/logout", token: try Self.accessToken(first))
            #expect(logout.status == 204)
            let (closed, events) = try await Self.finalEvents(stream, timeout: .seconds(10))
            #expect(closed, "the stream ended")
            #expect(Self.reason(events.last) == "token_revoked", "\(events)")
            // The other login still works, and its stream is not interrupted: it still carries messages.
            let (otherEnded, _) = try await Self.finalEvents(otherStream, timeout: .seconds(1))
            #expect(!otherEnded)
            #expect(try await RevocationTests.status(gateway, token: other["access_token"]) == 200)
            let sent = try await gateway.request(.post, "/v1/messages", json: ["text": "still here"], token: try Self.accessToken(other))
            #expect(sent.status == 201)
            let carried = try await RawConnection.run { otherStream.readEvents(count: 1, timeout: .seconds(5)) }
            #expect(carried.last?.name == "message", "\(carried)")
        }
    }

    @Test("logout of a user's only login closes the user's Tinode session at once (offline in Tinode), on every instance")
    func logoutClosesTheSession() async throws {
        try await GatewayHarness.run { gateway in
            let (_, tokens) = try await gateway.register("offline")
            let userID = try #require(tokens["user_id"] as? String)
            let token = try Self.accessToken(tokens)
            #expect(try await gateway.request(.post, "/v1/messages", json: ["text": "hi"], token: token).status == 201)
            #expect(gateway.double.openStreamCount(user: userID) == 1)
            #expect(try await gateway.request(.post, "/v1/auth/logout", token: token).status == 204)
            #expect(await eventually { gateway.double.openStreamCount(user: userID) == 0 })
        }
    }

    @Test("logout-all on one instance ends the user's streams on another at once (Valkey pub/sub, not the periodic check)")
    func logoutAllReachesEveryInstance() async throws {
        // The periodic check is an hour away: only the notice can end the stream in time.
        try await GatewayHarness.runTwo(extraEnvironment: ["GATEWAY_STREAM_RECHECK_SECONDS": "3600"]) { a, b in
            let (_, tokens) = try await a.register("everywhere")
            let token = try Self.accessToken(tokens)
            // Give b's subscription a moment to be up (it starts with the application).
            try await Task.sleep(for: .milliseconds(500))
            let stream = try await LiveStreamBoundsTests.openStream(b, token: token)
            #expect(stream.status == 200)
            let started = ContinuousClock.now
            #expect(try await a.request(.post, "/v1/auth/logout-all", token: token).status == 204)
            let (closed, events) = try await Self.finalEvents(stream, timeout: .seconds(10))
            #expect(closed)
            #expect(Self.reason(events.last) == "token_revoked", "\(events)")
            #expect(ContinuousClock.now - started < .seconds(5), "ended by the notice, not by a check an hour away")
        }
    }

    @Test("a stream whose token a refresh retired ends at the next check after the grace; the new token's stream lives on")
    func refreshedAwayTokenEndsItsStream() async throws {
        try await GatewayHarness.run(extraEnvironment: ["GATEWAY_REFRESH_GRACE_SECONDS": "1", "GATEWAY_STREAM_RECHECK_SECONDS": "1"]) {
            gateway in
            let (_, first) = try await gateway.register("sse-refresh")
            let old = try await LiveStreamBoundsTests.openStream(gateway, token: try Self.accessToken(first))
            let refreshed = try #require(try await RevocationTests.refresh(gateway, first).json)
            let new = try await LiveStreamBoundsTests.openStream(gateway, token: try Self.accessToken(refreshed))
            #expect(old.status == 200 && new.status == 200)
            let (closed, events) = try await Self.finalEvents(old, timeout: .seconds(8))
            #expect(closed)
            #expect(Self.reason(events.last) == "token_revoked", "\(events)")
            let (newClosed, _) = try await Self.finalEvents(new, timeout: .seconds(2))
            #expect(!newClosed, "the stream of the token in use goes on")
        }
    }

    @Test("a stream ends with `token_expired` when its access token expires")
    func expiryEndsTheStream() async throws {
        try await GatewayHarness.run(extraEnvironment: ["JWT_ACCESS_TTL": "10", "GATEWAY_STREAM_RECHECK_SECONDS": "3600"]) { gateway in
            let (_, tokens) = try await gateway.register("sse-expiry")
            let stream = try await LiveStreamBoundsTests.openStream(gateway, token: try Self.accessToken(tokens))
            #expect(stream.status == 200)
            let started = ContinuousClock.now
            let (closed, events) = try await Self.finalEvents(stream, timeout: .seconds(20))
            #expect(closed)
            #expect(Self.reason(events.last) == "token_expired", "\(events)")
            #expect(ContinuousClock.now - started < .seconds(15))
        }
    }

    @Test("logout closes the WebSocket opened with that token with code 4001 `token_revoked`")
    func logoutClosesTheWebSocket() async throws {
        try await GatewayHarness.run(extraEnvironment: ["GATEWAY_STREAM_RECHECK_SECONDS": "3600"]) { gateway in
            let (_, tokens) = try await gateway.register("ws-logout")
            let token = try Self.accessToken(tokens)
            let socket = try #require(try await LiveStreamBoundsTests.openWebSocket(gateway, token: token))
            // The socket is open before the logout: the stream registered its token.
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await gateway.request(.post, "/v1/auth/logout", token: token).status == 204)
            let close = try await RawConnection.run { Self.closeFrame(on: socket, timeout: .seconds(10)) }
            #expect(close?.code == 4001, "\(String(describing: close))")
            #expect(close?.reason == "token_revoked")
        }
    }

    /// The first close frame the server sends on an upgraded connection: code and reason.
    static func closeFrame(on connection: RawConnection, timeout: Duration) -> (code: Int, reason: String)? {
        var bytes: [UInt8] = []
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            var closed = false
            switch connection.receive(timeout: .milliseconds(200)) {
            case .bytes(let more): bytes += more
            case .closed: closed = true
            case .timedOut: break
            }
            // Unmasked server frames: skip whole frames until a close (0x88) with a short payload.
            var index = 0
            while index + 2 <= bytes.count {
                let length = Int(bytes[index + 1] & 0x7f)
                guard length < 126 else { return nil }
                guard index + 2 + length <= bytes.count else { break }
                if bytes[index] == 0x88, length >= 2 {
                    let code = Int(bytes[index + 2]) << 8 | Int(bytes[index + 3])
                    return (code, String(decoding: bytes[(index + 4)..<(index + 2 + length)], as: UTF8.self))
                }
                index += 2 + length
            }
            if closed { return nil }
        }
        return nil
    }
}
