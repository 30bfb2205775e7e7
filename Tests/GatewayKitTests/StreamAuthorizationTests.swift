import Foundation
import SidecarCore
import Synchronization
import Testing

@testable import GatewayKit

/// The token watch of a live stream, without sockets: what ends it, and what does not.
@Suite("Stream authorization: notices, expiry, checks", .timeLimit(.minutes(1)))
struct StreamAuthorizationTests {
    static func caller(user: String = "usrA", access: String = "acc1", family: String? = "fam1", expiresIn: TimeInterval = 3600) -> Caller {
        let now = Date()
        return Caller(
            claims: AccessTokenClaims(
                userID: user, accessID: access, issuedAt: now, expiresAt: now.addingTimeInterval(expiresIn), issuer: "t", audience: "t"),
            record: TokenRecord(
                accessID: access, userID: user, tinodeToken: "", tinodeTokenExpires: now, createdAt: now, login: nil, email: nil,
                refreshFamilyID: family))
    }

    @Test("a notice for the user's login, or for every login, ends the watch; other users' and logins' notices do not")
    func noticesEndTheirStreams() async throws {
        let registry = StreamAuthorizations()
        let mine = registry.authorize(Self.caller())
        let otherLogin = registry.authorize(Self.caller(access: "acc2", family: "fam2"))
        let otherUser = registry.authorize(Self.caller(user: "usrB", access: "acc3", family: "fam1"))
        let watching = Task { await mine.watch(recheckEvery: .seconds(3600), isLive: { true }) }
        #expect(registry.end(RevocationNotice(userID: "usrA", familyID: "fam1")) == 1)
        #expect(await watching.value == .revoked)
        #expect(otherLogin.endReason == nil && otherUser.endReason == nil)
        #expect(registry.end(RevocationNotice(userID: "usrA")) == 2, "every login of usrA, the ended one included")
        #expect(otherLogin.endReason == .revoked)
        #expect(otherUser.endReason == nil)
    }

    @Test("the token's expiry ends the watch with token_expired")
    func expiry() async throws {
        let registry = StreamAuthorizations()
        let authorization = registry.authorize(Self.caller(expiresIn: 0.3))
        let started = ContinuousClock.now
        #expect(await authorization.watch(recheckEvery: .seconds(3600), isLive: { true }) == .expired)
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    @Test("a check that no longer finds the token ends the watch; one that cannot tell does not")
    func periodicCheck() async throws {
        let registry = StreamAuthorizations()
        let checks = Atomic(0)
        let authorization = registry.authorize(Self.caller())
        let reason = await authorization.watch(recheckEvery: .milliseconds(50)) {
            // Live for the first three checks (or the store could not answer), then gone.
            checks.add(1, ordering: .relaxed).newValue <= 3
        }
        #expect(reason == .revoked)
        #expect(checks.load(ordering: .relaxed) == 4)
    }

    @Test("cancelling the stream's task ends the watch without a reason; an ended stream leaves the registry")
    func cancellation() async throws {
        let registry = StreamAuthorizations()
        /// One stream's life: watched, then cancelled; its authorization is dropped at the end.
        func runAndCancel() async throws -> TokenEnd? {
            let authorization = registry.authorize(Self.caller())
            let task = Task { await authorization.watch(recheckEvery: .seconds(3600), isLive: { true }) }
            try await Task.sleep(for: .milliseconds(50))
            #expect(registry.count(user: "usrA") == 1)
            task.cancel()
            return await task.value
        }
        #expect(try await runAndCancel() == nil)
        #expect(registry.count(user: "usrA") == 0, "the ended stream's entry is gone")
        #expect(registry.end(RevocationNotice(userID: "usrA")) == 0)
    }

    @Test("the first reason counts")
    func firstReasonWins() {
        let authorization = StreamAuthorizations().authorize(Self.caller())
        authorization.end(.expired)
        authorization.end(.revoked)
        #expect(authorization.endReason == .expired)
    }
}
