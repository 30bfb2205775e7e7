import Foundation
import SidecarCore
import TestSupport
import Testing
import Valkey

@testable import AuthPluginKit

/// The stores AuthPlugin uses, on the same Valkey and with the same default prefix, so a test can
/// prove addresses as the Gateway does, write links of the old layout and look at what REST-auth wrote.
struct SharedStores {
    let valkey: ValkeyClient
    var proofs: ValkeyProvenAddressStore { ValkeyProvenAddressStore(client: valkey) }
    var links: ValkeyIdentityLinkStore { ValkeyIdentityLinkStore(client: valkey) }

    /// The subject `externalToken(email:subject:)` puts in its tokens.
    static func subject(_ subject: String) -> ExternalSubject { ExternalSubject(issuer: externalIssuer, subject: subject) }

    /// A link of the e-mail layout that deployed Valkeys still hold.
    func writeLegacyLink(email: String, uid: String) async throws {
        try await valkey.set("sidecar:link:email:" + email, to: uid)
        try await valkey.set("sidecar:link:uid:" + uid, to: email)
    }
}

/// Runs AuthPlugin on the test Valkey and hands `body` a client and the shared stores.
func withExternalIdentities(
    _ environment: [String: String]? = nil, _ body: @escaping @Sendable (AuthPluginClient, SharedStores) async throws -> Void
) async throws {
    let url = try testValkeyURL()
    try await withValkeyClient(try ValkeyConfiguration(url: url)) { valkey in
        try await withAuthPlugin(environment ?? baseEnvironment(valkeyURL: url)) { client in
            try await body(client, SharedStores(valkey: valkey))
        }
    }
}

extension AuthPluginClient {
    /// The uid `auth` answers for `token`, or nil when it answers `newacc` (asserted) instead.
    func knownUID(_ token: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> String? {
        let answer = try await call("auth", ["secret": secretField(token)])
        let rec = try #require(answer["rec"] as? [String: Any], "no rec: \(answer)", sourceLocation: sourceLocation)
        if let uid = rec["uid"] as? String {
            #expect(answer["newacc"] == nil, sourceLocation: sourceLocation)
            return uid
        }
        #expect(answer["newacc"] != nil, "neither uid nor newacc: \(answer)", sourceLocation: sourceLocation)
        return nil
    }

    /// What Tinode does after a `newacc` answer: creates the user and calls `link` with its new uid.
    func createAccount(for token: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
        let uid = randomUID()
        let linked = try await call("link", ["rec": ["uid": uid, "authlvl": "auth", "State": "ok"], "secret": secretField(token)])
        #expect(linked as NSDictionary == [:], "link: \(linked)", sourceLocation: sourceLocation)
        return uid
    }
}

@Suite("REST-auth: external identities are (iss, sub); addresses join accounts only when verified and proven")
struct RESTAuthExternalIdentityTests {
    @Test("A token whose address is not verified never gets an existing account, whatever proves or links the address")
    func unverifiedNeverJoins() async throws {
        try await withExternalIdentities { client, stores in
            let email = uniqueEmail("owner")
            let owner = randomUID()
            #expect(try await stores.proofs.prove(email: email, uid: owner, by: .tinodeValidation) == .created)
            let legacyEmail = uniqueEmail("legacy")
            let legacyUID = randomUID()
            try await stores.writeLegacyLink(email: legacyEmail, uid: legacyUID)
            // Absent, false, and values that are not JSON true or the string "true".
            let values: [Any?] = [nil, false, "false", 1, "1", "TRUE", "yes"]
            for (index, verified) in values.enumerated() {
                for address in [email, legacyEmail] {
                    let token = externalToken(email: address, subject: "unverified-\(index)-\(UUID())", verified: verified)
                    #expect(try await client.knownUID(token) == nil, "email_verified \(String(describing: verified))")
                }
            }
            #expect(try await stores.proofs.owner(ofEmail: email) == ProvenAddress(uid: owner, proof: .tinodeValidation))
            #expect(try await stores.valkey.getString("sidecar:link:email:" + legacyEmail) == legacyUID)
        }
    }

    @Test("Pre-hijacking: an unverified token for a Gateway user's proven address gets a new account, and proves nothing")
    func preHijackGetsNewAccount() async throws {
        try await withExternalIdentities { client, stores in
            let victimEmail = uniqueEmail("victim")
            let victim = randomUID()
            #expect(try await stores.proofs.prove(email: victimEmail, uid: victim, by: .tinodeValidation) == .created)
            // The attacker's account at the issuer claims the victim's address without verifying it.
            let attackerToken = externalToken(email: victimEmail, name: nil, subject: "attacker-\(UUID())", verified: false)
            let first = try await client.call("auth", ["secret": secretField(attackerToken)])
            let login = try LoginNameMapper().loginName(for: victimEmail)
            let local = String(victimEmail.prefix { $0 != "@" })
            // A new account: no `email:` tag for the unverified address, and the local part as its name.
            #expect(
                first as NSDictionary == [
                    "rec": ["authlvl": "auth", "features": "V", "state": "ok", "tags": ["rest:\(login)"]],
                    "newacc": ["auth": "JRWPAS", "anon": "N", "public": ["fn": local]],
                ])
            let attacker = try await client.createAccount(for: attackerToken)
            #expect(attacker != victim)
            #expect(try await client.knownUID(attackerToken) == attacker)
            // The address still belongs to the victim alone.
            #expect(try await stores.proofs.owner(ofEmail: victimEmail)?.uid == victim)
            #expect(try await stores.proofs.addresses(ofUID: attacker).isEmpty)
        }
    }

    @Test("Pre-hijacking the other way: an address someone only typed gives the owner's verified token a new account")
    func unprovenAddressGivesOwnerNewAccount() async throws {
        try await withExternalIdentities { client, stores in
            let email = uniqueEmail("typed")
            // Someone registered this address through `basic` without proving it: nothing is stored for it.
            let ownerToken = externalToken(email: email, subject: "owner-\(UUID())", verified: true)
            #expect(try await client.knownUID(ownerToken) == nil)
            let owner = try await client.createAccount(for: ownerToken)
            // The verified address is now proven for the owner's new account (first proof wins).
            #expect(try await stores.proofs.owner(ofEmail: email) == ProvenAddress(uid: owner, proof: .externalToken))
            #expect(try await stores.proofs.prove(email: email, uid: randomUID(), by: .tinodeValidation) != .created)
        }
    }

    @Test("A verified token gets the account that proved its address, JSON true or the string \"true\"")
    func verifiedGetsProvenAccount() async throws {
        try await withExternalIdentities { client, stores in
            let email = uniqueEmail("proven")
            let owner = randomUID()
            let proof = try await stores.proofs.prove(email: email, uid: owner, by: .tinodeValidation)
            #expect(proof == .created)
            let values: [Any] = [true, "true"]
            for verified in values {
                let subject = "gateway-user-at-issuer-\(UUID())"
                let token = externalToken(email: email.uppercased(), subject: subject, verified: verified)
                #expect(try await client.knownUID(token) == owner)
                // Linked by subject now: a later token of that subject finds the account without the proof.
                #expect(try await stores.links.uid(for: SharedStores.subject(subject)) == owner)
                #expect(
                    try await client.call("checkunique", ["secret": secretField(token)]) as NSDictionary == ["err": "duplicate value"])
            }
            #expect(try await stores.links.links(ofUID: owner).count == 2)
            #expect(try await stores.proofs.owner(ofEmail: email)?.proof == .tinodeValidation)
        }
    }

    @Test("The same subject with a changed address keeps its account")
    func addressChangeKeepsAccount() async throws {
        try await withExternalIdentities { client, stores in
            let subject = "mover-\(UUID())"
            let first = externalToken(email: uniqueEmail("before"), subject: subject, verified: true)
            #expect(try await client.knownUID(first) == nil)
            let uid = try await client.createAccount(for: first)
            // A new address, unverified; then one that another account proved: the subject decides.
            let changed = externalToken(email: uniqueEmail("after"), subject: subject)
            #expect(try await client.knownUID(changed) == uid)
            let elsewhere = uniqueEmail("elsewhere")
            #expect(try await stores.proofs.prove(email: elsewhere, uid: randomUID(), by: .tinodeValidation) == .created)
            #expect(try await client.knownUID(externalToken(email: elsewhere, subject: subject, verified: true)) == uid)
        }
    }

    @Test("A second subject with the same verified address takes the first's account only when that account proved it")
    func secondSubjectNeedsProof() async throws {
        try await withExternalIdentities { client, stores in
            // First subject: address not verified, so its account proves nothing.
            let email = uniqueEmail("shared")
            let firstSubject = "first-\(UUID())"
            let firstToken = externalToken(email: email, subject: firstSubject)
            #expect(try await client.knownUID(firstToken) == nil)
            let first = try await client.createAccount(for: firstToken)
            // Second subject, verified: a new account, which proves the address.
            let secondToken = externalToken(email: email, subject: "second-\(UUID())", verified: true)
            #expect(try await client.knownUID(secondToken) == nil)
            let second = try await client.createAccount(for: secondToken)
            #expect(second != first)
            #expect(try await stores.proofs.owner(ofEmail: email)?.uid == second)
            // A third subject, verified: the address is proven now, so it joins that account.
            #expect(try await client.knownUID(externalToken(email: email, subject: "third-\(UUID())", verified: true)) == second)
            // The first subject keeps its own account, verified or not.
            #expect(try await client.knownUID(externalToken(email: email, subject: firstSubject, verified: true)) == first)
        }
    }

    @Test("checkunique asks about the subject; add links it and proves a verified address")
    func checkUniqueAndAdd() async throws {
        try await withExternalIdentities { client, stores in
            let email = uniqueEmail("acc")
            let proven = randomUID()
            #expect(try await stores.proofs.prove(email: email, uid: proven, by: .tinodeValidation) == .created)
            // The address is proven by another account, but this subject is new: {acc scheme:rest} may create one.
            let token = externalToken(email: email, subject: "acc-\(UUID())", verified: true)
            #expect(try await client.call("checkunique", ["secret": secretField(token)]) as NSDictionary == ["boolval": true])
            let uid = randomUID()
            let added = try await client.call("add", ["rec": ["uid": uid, "State": "ok"], "secret": secretField(token)])
            let login = try LoginNameMapper().loginName(for: email)
            #expect(
                added as NSDictionary == [
                    "rec": ["uid": uid, "authlvl": "auth", "features": "V", "tags": ["email:\(email)", "rest:\(login)"]]
                ])
            #expect(try await client.call("checkunique", ["secret": secretField(token)]) as NSDictionary == ["err": "duplicate value"])
            #expect(try await client.knownUID(token) == uid)
            // The first proof wins: the address stays the other account's.
            #expect(try await stores.proofs.owner(ofEmail: email)?.uid == proven)
            #expect(try await stores.proofs.addresses(ofUID: uid).isEmpty)
        }
    }

    @Test("upd moves the uid to the token's subject; a subject of another uid is a conflict")
    func updMovesSubject() async throws {
        try await withExternalIdentities { client, stores in
            let oldToken = externalToken(email: uniqueEmail("old"), subject: "old-\(UUID())")
            let uid = try await client.createAccount(for: oldToken)
            let otherToken = externalToken(email: uniqueEmail("other"), subject: "other-\(UUID())")
            let other = try await client.createAccount(for: otherToken)

            let newEmail = uniqueEmail("new")
            let newToken = externalToken(email: newEmail, subject: "new-\(UUID())", verified: true)
            let rec: [String: Any] = ["uid": uid, "tags": ["rest:x"], "State": "ok"]
            #expect(try await client.call("upd", ["rec": rec, "secret": secretField(newToken)]) as NSDictionary == [:])
            #expect(try await client.knownUID(newToken) == uid)
            #expect(try await client.knownUID(oldToken) == nil, "the old subject is free")
            #expect(try await stores.proofs.owner(ofEmail: newEmail)?.uid == uid)

            #expect(
                try await client.call("upd", ["rec": rec, "secret": secretField(otherToken)]) as NSDictionary == ["err": "duplicate value"])
            #expect(try await client.knownUID(otherToken) == other)
            #expect(try await client.knownUID(newToken) == uid)
        }
    }

    @Test("del forgets the user's proofs and links and revokes its tokens")
    func delForgetsProofsAndLinks() async throws {
        let url = try testValkeyURL()
        let environment = baseEnvironment(valkeyURL: url)
        try await withExternalIdentities(environment) { client, stores in
            let email = uniqueEmail("leaver")
            let token = externalToken(email: email, subject: "leaver-\(UUID())", verified: true)
            let uid = try await client.createAccount(for: token)
            let other = uniqueEmail("leaver-gateway")
            #expect(try await stores.proofs.prove(email: other, uid: uid, by: .tinodeValidation) == .created)
            let legacy = uniqueEmail("leaver-legacy")
            try await stores.writeLegacyLink(email: legacy, uid: uid)
            let (gateway, _) = try await gatewayToken(uid: uid, environment: environment, store: ValkeyTokenStore(client: stores.valkey))
            #expect(try await stores.proofs.addresses(ofUID: uid).sorted() == [email, other].sorted())

            #expect(try await client.call("del", ["rec": ["uid": uid, "State": "ok"]]) as NSDictionary == [:])
            #expect(try await stores.proofs.owner(ofEmail: email) == nil)
            #expect(try await stores.proofs.owner(ofEmail: other) == nil)
            #expect(try await stores.proofs.addresses(ofUID: uid).isEmpty)
            #expect(try await stores.links.links(ofUID: uid).isEmpty)
            #expect(try await stores.valkey.getString("sidecar:link:email:" + legacy) == nil)
            #expect(try await client.call("auth", ["secret": secretField(gateway)]) as NSDictionary == ["err": "expired"])
            // The subject and the address are free: the next login starts a new account.
            #expect(try await client.call("checkunique", ["secret": secretField(token)]) as NSDictionary == ["boolval": true])
            #expect(try await client.knownUID(token) == nil)
        }
    }

    @Test("Migration: an e-mail link of the old layout is honoured only for a verified token, then rewritten")
    func legacyLinkMigration() async throws {
        try await withExternalIdentities { client, stores in
            let email = uniqueEmail("deployed")
            let uid = randomUID()
            try await stores.writeLegacyLink(email: email, uid: uid)
            // Unverified: a new account, and the legacy link stays for a verified login.
            let unverified = externalToken(email: email, subject: "unverified-\(UUID())")
            #expect(try await client.knownUID(unverified) == nil)
            #expect(try await stores.valkey.getString("sidecar:link:email:" + email) == uid)

            let subject = "deployed-\(UUID())"
            let verified = externalToken(email: email, subject: subject, verified: true)
            #expect(try await client.knownUID(verified) == uid)
            // Rewritten: a subject link with the address, a proof, and no legacy keys.
            #expect(
                try await stores.links.links(ofUID: uid) == [SubjectLink(subject: SharedStores.subject(subject), uid: uid, email: email)])
            #expect(try await stores.proofs.owner(ofEmail: email) == ProvenAddress(uid: uid, proof: .externalToken))
            #expect(try await stores.valkey.getString("sidecar:link:email:" + email) == nil)
            #expect(try await stores.valkey.getString("sidecar:link:uid:" + uid) == nil)
            #expect(try await client.knownUID(externalToken(email: uniqueEmail("changed"), subject: subject)) == uid)
        }
    }

    @Test("A proof outranks a legacy link of another account")
    func proofOutranksLegacyLink() async throws {
        try await withExternalIdentities { client, stores in
            let email = uniqueEmail("contested")
            let (proven, legacy) = (randomUID(), randomUID())
            #expect(try await stores.proofs.prove(email: email, uid: proven, by: .tinodeValidation) == .created)
            try await stores.writeLegacyLink(email: email, uid: legacy)
            #expect(try await client.knownUID(externalToken(email: email, subject: "contested-\(UUID())", verified: true)) == proven)
        }
    }

    @Test("EXTERNAL_JWT_EMAIL_VERIFIED_CLAIM names the claim that vouches for the address")
    func configurableClaim() async throws {
        let url = try testValkeyURL()
        var environment = baseEnvironment(valkeyURL: url)
        environment["EXTERNAL_JWT_EMAIL_VERIFIED_CLAIM"] = "https://backend.example/email_ok"
        try await withExternalIdentities(environment) { client, stores in
            let email = uniqueEmail("custom")
            let owner = randomUID()
            let proof = try await stores.proofs.prove(email: email, uid: owner, by: .tinodeValidation)
            #expect(proof == .created)
            // The standard claim means nothing now; the configured one does.
            #expect(try await client.knownUID(externalToken(email: email, subject: "std-\(UUID())", verified: true)) == nil)
            let claim: [String: Any] = ["https://backend.example/email_ok": true]
            let custom = externalToken(email: email, subject: "custom-\(UUID())", extra: claim)
            #expect(try await client.knownUID(custom) == owner)
        }
    }
}
