import Foundation
import Synchronization
import TestSupport
import Testing
import Valkey

@testable import SidecarCore

private func settings() -> JWTSettings {
    JWTSettings(
        accessSecret: SecretBytes(String(repeating: "a", count: 32)), previousAccessSecret: nil,
        refreshSecret: SecretBytes(String(repeating: "b", count: 32)), signingKeysJSON: nil, issuer: "tinode-sidecar",
        audience: "tinode-sidecar", accessTTL: .seconds(900), refreshTTL: .seconds(86_400), leeway: .seconds(5))
}

/// A clock the test moves by hand.
private final class ManualClock: Sendable {
    private let current = Mutex(Date())
    var now: Date { current.withLock { $0 } }
    func advance(by seconds: TimeInterval) { current.withLock { $0 = $0.addingTimeInterval(seconds) } }
}

/// Why `token` is refused, or nil when it is accepted.
private func failure(_ authenticator: AccessTokenAuthenticator, _ token: String) async -> AccessTokenFailure? {
    do {
        _ = try await authenticator.authenticate(token)
        return nil
    } catch {
        return error
    }
}

private func isRejected(_ failure: AccessTokenFailure?, _ rejection: TokenRejection) -> Bool {
    guard case .rejected(let reason) = failure else { return false }
    return reason == rejection
}

private func isRevoked(_ failure: AccessTokenFailure?) -> Bool {
    guard case .revoked = failure else { return false }
    return true
}

/// A token store that counts the reads reaching it.
private final class CountingStore: TokenStore {
    let store: any TokenStore
    let reads = Atomic<Int>(0)

    init(store: any TokenStore) { self.store = store }

    func put(_ record: TokenRecord, ttl: Duration) async throws { try await store.put(record, ttl: ttl) }
    func get(accessID: String) async throws -> TokenRecord? {
        reads.add(1, ordering: .relaxed)
        return try await store.get(accessID: accessID)
    }
    func trackedGet(accessID: String) async throws -> (record: TokenRecord?, lease: TrackingLease?) {
        reads.add(1, ordering: .relaxed)
        return try await store.trackedGet(accessID: accessID)
    }
    func delete(accessID: String) async throws { try await store.delete(accessID: accessID) }
    func revokeFamily(_ familyID: String, userID: String) async throws -> Int {
        try await store.revokeFamily(familyID, userID: userID)
    }
    func retireFamily(_ familyID: String, except keep: String, within grace: Duration) async throws {
        try await store.retireFamily(familyID, except: keep, within: grace)
    }
    func deleteAll(userID: String) async throws -> Int { try await store.deleteAll(userID: userID) }
}

@Suite("Verified access tokens are remembered, never beyond their lifetime")
struct VerifiedTokenCacheTests {
    @Test("A remembered token still expires, and only the exact token is remembered")
    func cacheKeepsTimeChecks() async throws {
        let clock = ManualClock()
        let service = try await TokenService(settings: settings(), now: { clock.now })
        let store = InMemoryTokenStore()
        let authenticator = AccessTokenAuthenticator(tokens: service, store: store)
        let (token, claims) = try await service.issueAccessToken(userID: "usrA", accessID: "x")
        try await store.put(makeTokenRecord(userID: "usrA", accessID: "x"), ttl: .seconds(3_600))
        #expect(try await authenticator.authenticate(token).claims == claims)
        #expect(authenticator.rememberedCount == 1)
        #expect(try await authenticator.authenticate(token).claims == claims)

        // One character changed in the signature: not the remembered token, so verified and refused.
        var tampered = Array(token)
        tampered[tampered.count - 2] = tampered[tampered.count - 2] == "A" ? "B" : "A"
        #expect(isRejected(await failure(authenticator, String(tampered)), .badSignature))
        #expect(authenticator.rememberedCount == 1, "refused tokens are not remembered")

        clock.advance(by: 900 + 6)
        #expect(isRejected(await failure(authenticator, token), .expired))
    }

    @Test("With capacity 0 nothing is remembered")
    func cacheOff() async throws {
        let service = try await TokenService(settings: settings())
        let store = InMemoryTokenStore()
        let authenticator = AccessTokenAuthenticator(tokens: service, store: store, capacity: 0)
        let (token, _) = try await service.issueAccessToken(userID: "usrA", accessID: "x")
        try await store.put(makeTokenRecord(userID: "usrA", accessID: "x"), ttl: .seconds(3_600))
        _ = try await authenticator.authenticate(token)
        _ = try await authenticator.authenticate(token)
        #expect(authenticator.rememberedCount == 0)
        #expect(try await authenticator.authenticateRemembered(AccessTokenKey(token)) == nil)
    }
}

@Suite("One cache of access tokens: claims and record, answered by the token alone until the record changes")
struct AccessTokenAuthenticatorTests {
    @Test("Bounded: a full cache forgets some tokens, which are verified and read again")
    func bounded() async throws {
        let service = try await TokenService(settings: settings())
        let store = InMemoryTokenStore()
        let authenticator = AccessTokenAuthenticator(tokens: service, store: store, capacity: 20)
        var tokens: [String] = []
        for index in 0..<50 {
            let (token, _) = try await service.issueAccessToken(userID: "usrA", accessID: "id\(index)")
            try await store.put(makeTokenRecord(userID: "usrA", accessID: "id\(index)"), ttl: .seconds(3_600))
            _ = try await authenticator.authenticate(token)
            tokens.append(token)
            #expect(authenticator.rememberedCount <= 20)
        }
        for token in tokens { #expect(try await authenticator.authenticate(token).claims.userID == "usrA") }
    }

    @Test("A record of another user, or none, refuses the token; without a lease the store is asked on every use")
    func recordDecides() async throws {
        let service = try await TokenService(settings: settings())
        let store = CountingStore(store: InMemoryTokenStore())
        let authenticator = AccessTokenAuthenticator(tokens: service, store: store)
        let (token, _) = try await service.issueAccessToken(userID: "usrA", accessID: "mine")
        #expect(isRevoked(await failure(authenticator, token)))
        try await store.put(makeTokenRecord(userID: "usrB", accessID: "mine"), ttl: .seconds(3_600))
        guard case .otherUser = await failure(authenticator, token) else {
            Issue.record("a record of another user must refuse the token")
            return
        }
        try await store.put(makeTokenRecord(userID: "usrA", accessID: "mine"), ttl: .seconds(3_600))
        #expect(await failure(authenticator, token) == nil)
        try await store.delete(accessID: "mine")
        #expect(isRevoked(await failure(authenticator, token)))
        // The in-process store gives no lease: each of the four calls asked it.
        #expect(store.reads.load(ordering: .relaxed) == 4)
    }

    @Test(
        "With Valkey: a remembered token is answered from memory (server paused, store not asked) until its record is deleted; then refused as soon as the report arrives, or at once in the deleting process"
    )
    func revokedAlthoughCached() async throws {
        try await withRedisServer { server in
            // The pause below is shorter than a command timeout, so the subscription's ping survives it.
            let config = try ValkeyConfiguration(url: server.url, poolSize: 2, commandTimeout: .milliseconds(2_000))
            try await withValkeyClient(config) { client in
                try await withValkeyClient(try ValkeyConfiguration(url: server.url)) { admin in
                    let service = try await TokenService(settings: settings())
                    let ours = ValkeyTokenStore(client: client)
                    let store = CountingStore(store: ours)
                    // Another process's view of the same records (the Gateway that logs the user out).
                    let elsewhere = ValkeyTokenStore(client: admin)
                    let authenticator = AccessTokenAuthenticator(tokens: service, store: store)

                    /// A token with its record, remembered with a running lease.
                    func rememberedToken(family: String? = nil) async throws -> (token: String, record: TokenRecord) {
                        var record = makeTokenRecord(userID: "usrAbCdEfGhIjK")
                        record.refreshFamilyID = family
                        try await elsewhere.put(record, ttl: .seconds(600))
                        let (token, _) = try await service.issueAccessToken(userID: record.userID, accessID: record.accessID)
                        for _ in 0..<500 {
                            #expect(try await authenticator.authenticate(token).record == record)
                            if authenticator.cache.entry(for: AccessTokenKey(token))?.outcomeIsCurrent == true { break }
                            try await Task.sleep(for: .milliseconds(10))
                        }
                        try #require(
                            authenticator.cache.entry(for: AccessTokenKey(token))?.outcomeIsCurrent == true,
                            "the record never got a lease")
                        return (token, record)
                    }

                    let (token, record) = try await rememberedToken()
                    // Answered without the store: it is not asked, and a paused server does not matter.
                    let readsBefore = store.reads.load(ordering: .relaxed)
                    _ = try await admin.command(["CLIENT", "PAUSE", "1000", "ALL"])
                    for _ in 0..<100 { #expect(try await authenticator.authenticate(token).record == record) }
                    #expect(store.reads.load(ordering: .relaxed) == readsBefore)
                    try await Task.sleep(for: .milliseconds(1_100))

                    // Logged out by another process: refused as soon as Valkey's report arrives.
                    try await elsewhere.delete(accessID: record.accessID)
                    let deleted = ContinuousClock.now
                    var refused = false
                    while ContinuousClock.now - deleted < .seconds(3) {
                        if isRevoked(await failure(authenticator, token)) {
                            refused = true
                            break
                        }
                        try await Task.sleep(for: .milliseconds(5))
                    }
                    #expect(refused, "a deleted record must stop its token although the token was remembered")
                    #expect(ContinuousClock.now - deleted < .seconds(1), "stopped after \(ContinuousClock.now - deleted)")

                    // In the process that deletes, revokes a login or deletes the user: the very next call.
                    let single = try await rememberedToken()
                    try await store.delete(accessID: single.record.accessID)
                    #expect(isRevoked(await failure(authenticator, single.token)))
                    let login = try await rememberedToken(family: "fam-" + randomID())
                    _ = try await store.revokeFamily(login.record.refreshFamilyID!, userID: login.record.userID)
                    #expect(isRevoked(await failure(authenticator, login.token)))
                    let user = try await rememberedToken()
                    _ = try await store.deleteAll(userID: user.record.userID)
                    #expect(isRevoked(await failure(authenticator, user.token)))
                }
            }
        }
    }
}
