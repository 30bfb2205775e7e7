import Foundation
import Logging
import SidecarCore
import Testing
import TinodeDouble

@testable import GatewayKit

/// `Accounts` and `Messaging` driven directly, without HTTP: the same rules the routes answer with,
/// as values and `APIError`s.
@Suite("Accounts and Messaging without HTTP")
struct ServicesTests {
    /// A Gateway's services on the session harness's pool, with the in-memory stores.
    static func services(_ harness: SessionHarness) async throws -> GatewayAPI {
        let environment = [
            "ACCESS_SECRET": "services-test-access-secret-0123456789ab", "REFRESH_SECRET": "services-test-refresh-secret-0123456789a",
            "TINODE_TOPIC_ID": harness.room, "SIDECAR_SECRETS_DIR": "/nonexistent-sidecar-secrets",
        ]
        let configuration = try SidecarConfiguration(reader: try await ConfigurationSources.makeReader(environment: environment))
        var settings = GatewayAPISettings()
        settings.authAttempts = .perMinute(1000)
        return GatewayAPI(
            tokens: try await TokenService(settings: configuration.jwt),
            backend: try StoreBackend(configuration: configuration, logger: SessionHarness.logger), pool: harness.pool,
            loginNames: try LoginNameMapper(), settings: settings, logger: SessionHarness.logger)
    }

    @Test("register, log in, send with a key twice, read the page back, and log out: values in, values out")
    func accountsAndMessaging() async throws {
        try await SessionHarness.run { harness in
            let api = try await Self.services(harness)
            let accounts: any Accounts = api
            let messaging: any Messaging = api
            guard
                case .created(let registered) = try await accounts.register(
                    email: "Dana@Example.com", password: "dana-password-1", name: nil, from: ClientIP("192.0.2.7"))
            else {
                Issue.record("verification is off: register must log the user in")
                return
            }
            #expect(registered.login == (try LoginNameMapper().loginName(for: "dana@example.com")))
            let tokens = try await accounts.logIn(email: "dana@example.com", password: "dana-password-1", from: nil)
            #expect(tokens.userID == registered.userID)
            await #expect(throws: APIError.self) {
                _ = try await accounts.logIn(email: "dana@example.com", password: "wrong-password", from: nil)
            }

            let caller = try await api.authenticate(authorization: "Bearer " + tokens.accessToken)
            let first = try await messaging.send(.text("hello"), idempotencyKey: "k-1", as: caller)
            let retry = try await messaging.send(.text("hello"), idempotencyKey: "k-1", as: caller)
            #expect(retry.seq == first.seq)
            #expect(timestampText(retry.timestamp) == timestampText(first.timestamp))
            do {
                _ = try await messaging.send(.text("another"), idempotencyKey: "k-1", as: caller)
                Issue.record("the same key with another message must be refused")
            } catch let error as APIError {
                #expect(error.code == "idempotency_key_reused")
            }
            _ = try await messaging.send(.drafty(Data(#"{"txt":"bold"}"#.utf8)), idempotencyKey: nil, as: caller)

            let page = try await messaging.history(before: nil, limit: 1, for: caller)
            #expect(page.messages.count == 1)
            #expect(page.messages.first?.seq == first.seq + 1)
            #expect(page.nextBefore == first.seq + 1)
            do {
                _ = try await messaging.history(before: 0, limit: nil, for: caller)
                Issue.record("before=0 must be refused")
            } catch let error as APIError {
                #expect(error.status == .badRequest)
            }

            let profile = try await accounts.profile(of: caller)
            #expect(profile.userID == registered.userID && profile.email == "dana@example.com" && profile.name == "dana")

            try await accounts.logOut(caller)
            do {
                _ = try await api.authenticate(authorization: "Bearer " + tokens.accessToken)
                Issue.record("a logged-out token must be refused")
            } catch let error as APIError {
                #expect(error.code == "invalid_token")
            }
            do {
                _ = try await accounts.refresh(refreshToken: tokens.refreshToken)
                Issue.record("a logged-out login's refresh token must be refused")
            } catch let error as APIError {
                #expect(error.code == "invalid_refresh_token")
            }
        }
    }
}
