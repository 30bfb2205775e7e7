import Foundation
import Synchronization
import Testing
import TinodeProto

@testable import GatewayKit

/// A session against a scripted, in-memory Tinode (``InMemoryTinode``): no sockets, no gRPC, every
/// message Tinode sends chosen by the test.
@Suite("Tinode sessions against an in-memory Tinode")
struct InMemorySessionTests {
    @Test(
        "log in and join; a receipt carries the echo's time; a stream that breaks under a request fails it at once, and the next request reconnects by token"
    )
    func scripted() async throws {
        let answering = Atomic(true)
        let tinode = InMemoryTinode(
            answer: ScriptedTinode.answers(user: "usrAlice", room: "grpRoom", seq: 4) { answering.load(ordering: .relaxed) })
        var settings = SessionHarness.testSettings()
        settings.roomTopic = "grpRoom"
        let session = TinodeSession(
            login: .basic(login: "alice", password: "alice-password"), connector: tinode, tasks: BackgroundTasks(), settings: settings,
            logger: SessionHarness.logger)

        let identity = try await session.connect()
        #expect(identity.userID == "usrAlice")
        let receipt = try await session.publish(content: Data(#""hello""#.utf8))
        #expect(receipt.seq == 5 && receipt.topic == "grpRoom")
        #expect(receipt.timestamp == Date(timeIntervalSince1970: 1_765_146_468.043))

        // Tinode stops answering; the stream breaks while a `pub` waits for its ack.
        answering.store(false, ordering: .relaxed)
        let sent = tinode.received.withLock { $0.count }
        let waiting = Task { try await session.publish(content: Data(#""lost?""#.utf8)) }
        #expect(await eventually { tinode.received.withLock { $0.count } > sent })
        let started = ContinuousClock.now
        tinode.opened.last?.breakOff()
        do {
            _ = try await waiting.value
            Issue.record("a request whose stream broke must fail")
        } catch let error as TinodeSessionError {
            guard case .unavailable = error else {
                Issue.record("expected unavailable, got \(error)")
                return
            }
        }
        // At once, not after the 10 s request timeout.
        #expect(ContinuousClock.now - started < .seconds(5))

        answering.store(true, ordering: .relaxed)
        let again = try await session.publish(content: Data(#""again""#.utf8))
        #expect(again.seq == 6)  // the lost pub never reached the scripted store
        #expect(tinode.opened.count == 2)
        let logins = tinode.received.withLock { $0 }.compactMap { message -> String? in
            if case .login(let login) = message.message { return login.scheme }
            return nil
        }
        #expect(logins == ["basic", "token"])
        await session.close()
    }
}
