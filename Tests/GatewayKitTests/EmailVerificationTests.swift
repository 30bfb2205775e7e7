import Foundation
import SidecarCore
import TestSupport
import Testing
import TinodeDouble
import Valkey

/// `GATEWAY_EMAIL_VERIFICATION=required` against the double with Tinode's e-mail validator on
/// (fixture i): register answers 202 and Tinode mails a code; tokens only once the code came back
/// with the password; addresses cannot be taken over by registering them first or by a colliding
/// login name.
@Suite("E-mail verification through Tinode", .timeLimit(.minutes(3)))
struct EmailVerificationTests {
    static let required = ["GATEWAY_EMAIL_VERIFICATION": "required"]

    static var validating: TinodeDouble.Options {
        var options = TinodeDouble.Options()
        options.emailValidation = .init(maxRetries: 3)
        return options
    }

    static func address(_ name: String) -> String {
        "\(name)-\(UUID().uuidString.prefix(8).lowercased())@example.com"
    }

    /// The newest code the double mailed to `address`.
    static func code(for address: String, in double: TinodeDouble) throws -> String {
        try #require(double.confirmationMails().last { $0.address == address }?.code, "no mail to \(address)")
    }

    @Test("register: 202 pending and a mail, no tokens; login 403 until verified; verify answers the pair; /v1/me says verified")
    func registerVerifyLogin() async throws {
        try await GatewayHarness.run(extraEnvironment: Self.required, options: Self.validating) { gateway in
            let email = Self.address("vera")
            let registered = try await gateway.request(.post, "/v1/auth/register", json: ["email": email, "password": "vera-password"])
            #expect(registered.status == 202, "\(registered.text)")
            #expect(registered.json?["verification"] as? String == "pending")
            #expect(registered.json?["access_token"] == nil && registered.json?["refresh_token"] == nil)
            #expect(registered.json?["user_id"] == nil, "a user id would tell a new address from a known one")
            let code = try Self.code(for: email, in: gateway.double)

            let early = try await gateway.request(.post, "/v1/auth/login", json: ["email": email, "password": "vera-password"])
            #expect(early.status == 403 && early.errorCode == "email_unverified", "\(early.text)")
            #expect(early.json?["access_token"] == nil)

            let wrongCode = code == "111111" ? "222222" : "111111"
            let wrong = try await gateway.request(
                .post, "/v1/auth/verify", json: ["email": email, "password": "vera-password", "code": wrongCode])
            #expect(wrong.status == 400 && wrong.errorCode == "invalid_code", "\(wrong.text)")
            let badPassword = try await gateway.request(
                .post, "/v1/auth/verify", json: ["email": email, "password": "not-her-password", "code": code])
            #expect(badPassword.status == 401 && badPassword.errorCode == "invalid_credentials", "\(badPassword.text)")

            let verified = try await gateway.request(
                .post, "/v1/auth/verify", json: ["email": email, "password": "vera-password", "code": code])
            #expect(verified.status == 200, "\(verified.text)")
            let token = try #require(verified.json?["access_token"] as? String)
            let me = try await gateway.request(.get, "/v1/me", token: token)
            #expect(me.json?["email_verified"] as? Bool == true, "\(me.text)")
            #expect(me.json?["email"] as? String == email)
            #expect(me.json?["name"] as? String == String(email.prefix { $0 != "@" }), "fn is the local part, never the address")

            let login = try await gateway.request(.post, "/v1/auth/login", json: ["email": email, "password": "vera-password"])
            #expect(login.status == 200, "\(login.text)")
            #expect(login.json?["user_id"] as? String == verified.json?["user_id"] as? String)
        }
    }

    @Test("registering a known address answers the same 202 and makes no account; verify is not a second way in")
    func knownAddressLooksNew() async throws {
        try await GatewayHarness.run(extraEnvironment: Self.required, options: Self.validating) { gateway in
            let email = Self.address("kate")
            _ = try await gateway.request(.post, "/v1/auth/register", json: ["email": email, "password": "kate-password"])
            let code = try Self.code(for: email, in: gateway.double)
            let verified = try await gateway.request(
                .post, "/v1/auth/verify", json: ["email": email, "password": "kate-password", "code": code])
            #expect(verified.status == 200)
            let mailsBefore = gateway.double.confirmationMails().count

            let again = try await gateway.request(.post, "/v1/auth/register", json: ["email": email, "password": "other-password"])
            let fresh = try await gateway.request(
                .post, "/v1/auth/register", json: ["email": Self.address("kate"), "password": "other-password"])
            #expect(again.status == 202 && fresh.status == 202)
            #expect(Set((again.json ?? [:]).keys) == Set((fresh.json ?? [:]).keys), "the known and the new address look alike")
            // Only the new address got a mail; the known one got neither a mail nor a second account.
            #expect(gateway.double.confirmationMails().count == mailsBefore + 1)
            let other = try await gateway.request(.post, "/v1/auth/login", json: ["email": email, "password": "other-password"])
            #expect(other.status == 401)
        }
    }

    @Test("an address a backend token proved (its account made through REST-auth) gets no second account from register")
    func addressProvenByBackendToken() async throws {
        let email = Self.address("backend-first")
        let valkeyURL = try #require(ProcessInfo.processInfo.environment["VALKEY_TEST_URL"])
        try await withValkeyClient(try ValkeyConfiguration(url: valkeyURL)) { valkey in
            let outcome = try await ValkeyProvenAddressStore(client: valkey).prove(email: email, uid: "AbCdEfGhIjK", by: .externalToken)
            #expect(outcome == .created)
        }
        try await GatewayHarness.run(extraEnvironment: Self.required, options: Self.validating) { gateway in
            let mailsBefore = gateway.double.confirmationMails().count
            let reply = try await gateway.request(.post, "/v1/auth/register", json: ["email": email, "password": "second-account"])
            #expect(reply.status == 202, "\(reply.text)")
            #expect(gateway.double.confirmationMails().count == mailsBefore, "no code: nothing was made")
            let names = try LoginNameMapper().loginNames(for: email)
            #expect(names.allSatisfy { gateway.double.userID(login: $0) == nil }, "no basic account under either name")
        }
    }

    @Test("pre-hijacking: whoever registers the owner's address first gets nothing; the owner's own registration is the one verified")
    func registeringFirstTakesNothing() async throws {
        try await GatewayHarness.run(extraEnvironment: Self.required, options: Self.validating) { gateway in
            let victim = Self.address("victim")
            // The attacker registers the victim's address with a password of their own.
            let squat = try await gateway.request(.post, "/v1/auth/register", json: ["email": victim, "password": "attacker-pass"])
            #expect(squat.status == 202)
            // The owner registers later and gets the code of their own registration.
            let own = try await gateway.request(.post, "/v1/auth/register", json: ["email": victim, "password": "victim-pass"])
            #expect(own.status == 202)
            let mails = gateway.double.confirmationMails().filter { $0.address == victim }
            #expect(mails.count == 2, "each registration mailed its own code")
            let ownCode = try #require(mails.last?.code)
            let verified = try await gateway.request(
                .post, "/v1/auth/verify", json: ["email": victim, "password": "victim-pass", "code": ownCode])
            #expect(verified.status == 200, "\(verified.text)")
            let victimID = try #require(verified.json?["user_id"] as? String)

            // The attacker's password opens nothing: their account never got a code back.
            let attacker = try await gateway.request(.post, "/v1/auth/login", json: ["email": victim, "password": "attacker-pass"])
            #expect(attacker.status == 403 || attacker.status == 401, "\(attacker.text)")
            #expect(attacker.json?["access_token"] == nil)
            // Even with the victim's code (read over their shoulder) the attacker's password proves nothing.
            let stolen = try await gateway.request(
                .post, "/v1/auth/verify", json: ["email": victim, "password": "attacker-pass", "code": ownCode])
            #expect(stolen.json?["access_token"] == nil, "\(stolen.text)")
            let owner = try await gateway.request(.post, "/v1/auth/login", json: ["email": victim, "password": "victim-pass"])
            #expect(owner.status == 200 && owner.json?["user_id"] as? String == victimID)
        }
    }

    @Test("a verified account under a colliding login name cannot squat the owner's address")
    func collidingNameCannotSquat() async throws {
        // Two addresses with the same canonical login name john_gm_3058c34c (bench/login-name-collision.py).
        let squatter = "john@gm33663.example"
        let owner = "john@gm154358.example"
        // Fixed addresses on a shared Valkey: proofs left by an earlier run (of another double) go first.
        let valkeyURL = try #require(ProcessInfo.processInfo.environment["VALKEY_TEST_URL"])
        try await withValkeyClient(try ValkeyConfiguration(url: valkeyURL)) { valkey in
            let proofs = ValkeyProvenAddressStore(client: valkey)
            for address in [squatter, owner] {
                if let stale = try await proofs.owner(ofEmail: address) { try await proofs.forget(uid: stale.uid) }
            }
        }
        try await GatewayHarness.run(extraEnvironment: Self.required, options: Self.validating) { gateway in
            let squatterRegistered = try await gateway.request(
                .post, "/v1/auth/register", json: ["email": squatter, "password": "squatter-pass"])
            #expect(squatterRegistered.status == 202, "\(squatterRegistered.text)")
            let squatterCode = try Self.code(for: squatter, in: gateway.double)
            let squatterVerified = try await gateway.request(
                .post, "/v1/auth/verify", json: ["email": squatter, "password": "squatter-pass", "code": squatterCode])
            #expect(squatterVerified.status == 200)
            #expect(gateway.double.userID(login: "john_gm_3058c34c") != nil, "the squatter holds the canonical name")

            let registered = try await gateway.request(.post, "/v1/auth/register", json: ["email": owner, "password": "owner-pass"])
            #expect(registered.status == 202, "\(registered.text)")
            let code = try Self.code(for: owner, in: gateway.double)
            let verified = try await gateway.request(
                .post, "/v1/auth/verify", json: ["email": owner, "password": "owner-pass", "code": code])
            #expect(verified.status == 200, "\(verified.text)")
            let login = try #require(verified.json?["login"] as? String)
            #expect(login != "john_gm_3058c34c" && login.hasPrefix("john_gm_"), "the owner got the extended name: \(login)")
            #expect(verified.json?["user_id"] as? String != squatterVerified.json?["user_id"] as? String)

            // The squatter's password under the owner's address: the canonical account takes it, but
            // its validated address is another one, so it is not the owner's account.
            let squat = try await gateway.request(.post, "/v1/auth/login", json: ["email": owner, "password": "squatter-pass"])
            #expect(squat.status == 401, "\(squat.text)")
            let ownerLogin = try await gateway.request(.post, "/v1/auth/login", json: ["email": owner, "password": "owner-pass"])
            #expect(ownerLogin.status == 200 && ownerLogin.json?["user_id"] as? String == verified.json?["user_id"] as? String)
        }
    }

    @Test("wrong codes: Tinode's limit answers 422 until a new code is sent; resend needs the password and is limited per address")
    func wrongCodesAndResend() async throws {
        var environment = Self.required
        environment["GATEWAY_VERIFY_RESENDS_PER_HOUR"] = "2"
        try await GatewayHarness.run(extraEnvironment: environment, options: Self.validating) { gateway in
            let email = Self.address("wendy")
            _ = try await gateway.request(.post, "/v1/auth/register", json: ["email": email, "password": "wendy-password"])
            let first = try Self.code(for: email, in: gateway.double)
            let wrongCode = first == "111111" ? "222222" : "111111"
            var statuses: [Int] = []
            for _ in 0..<5 {
                let reply = try await gateway.request(
                    .post, "/v1/auth/verify", json: ["email": email, "password": "wendy-password", "code": wrongCode])
                statuses.append(reply.status)
            }
            // max_retries 3: four wrong answers are counted, the fifth attempt is refused outright.
            #expect(statuses == [400, 400, 400, 400, 422], "\(statuses)")
            let locked = try await gateway.request(
                .post, "/v1/auth/verify", json: ["email": email, "password": "wendy-password", "code": first])
            #expect(locked.status == 422 && locked.errorCode == "code_attempts_exceeded", "even the right code, until a new one")

            let stranger = try await gateway.request(.post, "/v1/auth/verify/resend", json: ["email": email, "password": "guess-guess"])
            #expect(stranger.status == 401, "only the password's holder can make Tinode mail the address")
            let resent = try await gateway.request(.post, "/v1/auth/verify/resend", json: ["email": email, "password": "wendy-password"])
            #expect(resent.status == 202, "\(resent.text)")
            let second = try Self.code(for: email, in: gateway.double)
            #expect(gateway.double.confirmationMails().filter { $0.address == email }.count == 2)
            let stale = try await gateway.request(
                .post, "/v1/auth/verify", json: ["email": email, "password": "wendy-password", "code": first == second ? "000000" : first])
            #expect(stale.status == 400, "the old code stopped working: \(stale.text)")
            let resentAgain = try await gateway.request(
                .post, "/v1/auth/verify/resend", json: ["email": email, "password": "wendy-password"])
            #expect(resentAgain.status == 202, "the stranger's try did not use up the allowance: \(resentAgain.text)")
            let limited = try await gateway.request(.post, "/v1/auth/verify/resend", json: ["email": email, "password": "wendy-password"])
            #expect(limited.status == 429, "the third code within the hour: \(limited.text)")
            #expect(gateway.double.confirmationMails().filter { $0.address == email }.count == 3)

            let third = try Self.code(for: email, in: gateway.double)
            let verified = try await gateway.request(
                .post, "/v1/auth/verify", json: ["email": email, "password": "wendy-password", "code": third])
            #expect(verified.status == 200, "\(verified.text)")
            let done = try await gateway.request(.post, "/v1/auth/verify/resend", json: ["email": email, "password": "wendy-password"])
            #expect(done.status == 409 && done.errorCode == "already_verified", "\(done.text)")
        }
    }

    @Test("code guessing is limited per address, whichever client asks")
    func guessingLimited() async throws {
        var environment = Self.required
        environment["GATEWAY_VERIFY_ATTEMPTS_PER_HOUR"] = "3"
        try await GatewayHarness.run(extraEnvironment: environment, options: Self.validating) { gateway in
            let email = Self.address("gus")
            _ = try await gateway.request(.post, "/v1/auth/register", json: ["email": email, "password": "gus-password"])
            var statuses: [Int] = []
            for guess in ["100001", "100002", "100003", "100004"] {
                let reply = try await gateway.request(
                    .post, "/v1/auth/verify", json: ["email": email, "password": "gus-password", "code": guess])
                statuses.append(reply.status)
            }
            #expect(statuses.last == 429, "\(statuses)")
            #expect(statuses.dropLast().allSatisfy { $0 == 400 || $0 == 422 }, "\(statuses)")
        }
    }

    @Test("required verification with a Tinode that does not validate: 503, never tokens")
    func tinodeWithoutValidator() async throws {
        try await GatewayHarness.run(extraEnvironment: Self.required) { gateway in
            let reply = try await gateway.request(
                .post, "/v1/auth/register", json: ["email": Self.address("nina"), "password": "nina-password"])
            #expect(reply.status == 503 && reply.errorCode == "verification_unavailable", "\(reply.text)")
            #expect(reply.json?["access_token"] == nil)
        }
    }

    @Test("verification off (development): register answers tokens at once, verify is 404, the address is not proven")
    func verificationOff() async throws {
        try await GatewayHarness.run(extraEnvironment: ["GATEWAY_EMAIL_VERIFICATION": "off"]) { gateway in
            let (email, tokens) = try await gateway.register("otto")
            let token = try #require(tokens["access_token"] as? String)
            let me = try await gateway.request(.get, "/v1/me", token: token)
            #expect(me.json?["email_verified"] as? Bool == false)
            #expect(me.json?["name"] as? String == "Otto")
            let verify = try await gateway.request(
                .post, "/v1/auth/verify", json: ["email": email, "password": "secret-password", "code": "123456"])
            #expect(verify.status == 404 && verify.errorCode == "verification_off")
            let exchange = try await gateway.request(.post, "/v1/auth/external", json: ["token": "a.b.c"])
            #expect(exchange.status == 404 && exchange.errorCode == "external_login_off", "no EXTERNAL_JWT_ISSUER here")
            let unnamed = try await gateway.request(
                .post, "/v1/auth/register", json: ["email": Self.address("anon"), "password": "secret-password"])
            let unnamedToken = try #require(unnamed.json?["access_token"] as? String)
            let unnamedMe = try await gateway.request(.get, "/v1/me", token: unnamedToken)
            let name = try #require(unnamedMe.json?["name"] as? String)
            #expect(!name.contains("@") && name.hasPrefix("anon-"), "fn is the local part: \(name)")
        }
    }
}
