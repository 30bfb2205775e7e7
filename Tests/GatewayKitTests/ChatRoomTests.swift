import Foundation
import GatewayKit
import SidecarCore
import Testing
import TinodeDouble

@Suite("Chat room: found or created by the service account", .timeLimit(.minutes(2)))
struct ChatRoomTests {
    @Test("the first start creates the room tagged room:general; later starts find the same room")
    func createThenFind() async throws {
        try await SessionHarness.run(createRoom: false) { harness in
            try harness.double.createUser(login: "gatewaysvc", password: "service-password")
            let account = ChatRoomService.Account.configured(.init(login: "gatewaysvc", password: "service-password"))
            let first = service(harness, account: account)
            let created = try await first.locateOnce()
            #expect(created.hasPrefix("grp"))
            let second = service(harness, account: account)
            #expect(try await second.locateOnce() == created)
            // A user can join it and write to it.
            await harness.pool.setRoom(created)
            let (session, _) = try await harness.register("yara")
            let receipt = try await session.publish(content: jsonText("first words"))
            #expect(receipt.topic == created)
        }
    }

    @Test("in development the Gateway registers its own service account once and reuses it")
    func selfRegistered() async throws {
        try await SessionHarness.run(createRoom: false) { harness in
            let store = InMemoryServiceAccountStore()
            let first = service(harness, account: .selfRegistered(store: store))
            let room = try await first.locateOnce()
            let credentials = try #require(await store.load())
            #expect(credentials.login.hasPrefix("sidecar_svc_"))
            let accountsBefore = harness.double.receivedCount(kind: "acc")
            let second = service(harness, account: .selfRegistered(store: store))
            #expect(try await second.locateOnce() == room)
            #expect(harness.double.receivedCount(kind: "acc") == accountsBefore)  // logged in, not registered again
        }
    }

    @Test("until the room is known, the pool refuses sessions as unavailable; then it accepts them")
    func poolWaitsForRoom() async throws {
        try await SessionHarness.run(createRoom: false) { harness in
            try harness.double.createUser(login: "gatewaysvc", password: "service-password")
            await harness.pool.expectRoom()
            let error = await #expect(throws: TinodeSessionError.self) { _ = try await harness.register("zoe") }
            guard case .unavailable = error else {
                Issue.record("expected unavailable, got \(String(describing: error))")
                return
            }
            let roomService = service(harness, account: .configured(.init(login: "gatewaysvc", password: "service-password")))
            let running = Task { try await roomService.run() }
            #expect(await eventually(timeout: .seconds(30)) { await harness.pool.roomTopic != nil })
            running.cancel()
            let (session, _) = try await harness.register("zoe")
            _ = try await session.publish(content: jsonText("hello room"))
        }
    }

    @Test("a wrong service password is retried, not fatal, and says why in the log")
    func wrongPassword() async throws {
        try await SessionHarness.run(createRoom: false) { harness in
            try harness.double.createUser(login: "gatewaysvc", password: "service-password")
            let roomService = service(harness, account: .configured(.init(login: "gatewaysvc", password: "wrong")))
            await #expect(throws: TinodeSessionError.authenticationFailed(code: 401, text: "authentication failed")) {
                _ = try await roomService.locateOnce()
            }
        }
    }

    private func service(_ harness: SessionHarness, account: ChatRoomService.Account) -> ChatRoomService {
        ChatRoomService(
            pool: harness.pool, connector: harness.connector, settings: harness.settings, configuredTopic: nil, account: account,
            logger: SessionHarness.logger)
    }
}
