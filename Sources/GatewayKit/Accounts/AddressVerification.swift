import Foundation
import SidecarCore
import TinodeProto

/// Proving that a Gateway user owns their e-mail address, done by Tinode's own e-mail validator
/// (`acc_validation.email` with `required: ["auth"]`): Tinode mails a code when the account is
/// made, and a login that carries the code validates the address.
///
/// Three rules keep an address from being taken over (SECURITY.md, "Accounts and addresses"):
/// * the code is checked together with the account's password, so that whoever registers an address
///   first cannot hand its owner an account whose password they know (pre-hijacking);
/// * an address counts as the account's only when the account carries Tinode's `email:<address>`
///   tag, which Tinode adds once the address is validated and which clients cannot set, because
///   Tinode checks a code against the account's own pending address whatever the login names;
/// * a canonical login name held by an account with another address (a collision found offline) is
///   passed over for the extended name (README, Login names).
extension GatewayAPI {
    enum RegistrationOutcome {
        /// Tinode made the account and logged it in (it does not require validation).
        case created(TinodeSession.Identity, login: String)
        /// Tinode made the account and mailed a code; nothing can use it until the code comes back.
        case pending(userID: String, login: String)
        /// The address has an account already.
        case exists
    }

    /// `POST /v1/auth/verify {"email","password","code"}` -> 200 with a token pair once Tinode
    /// accepted the code; 400 `invalid_code` for a wrong one, 422 `code_attempts_exceeded` after
    /// Tinode's limit of wrong answers (a new code resets it), 401 `invalid_credentials`.
    func verifyEmail(email: String, password: String, code: String, from client: ClientIP?) async throws -> IssuedTokens {
        let code = code.trimmingCharacters(in: .whitespaces)
        try requireVerification()
        guard !code.isEmpty, code.utf8.count <= 32, code.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else {
            throw APIError.badRequest("`code` must be the code from the mail (letters and digits).")
        }
        try await limitAuthAttempt(from: client)
        let (address, names) = try loginCandidates(email: email, password: password)
        // Per client through the bucket above; per address too, so that guessing one address's code
        // from many clients is limited. Tinode itself refuses answers after `max_retries` wrong ones
        // until a new code is sent. The password is checked too: it draws on the account's budget.
        try await limit("verify:address:" + address, settings.verifyAttempts, failClosed: true)
        try await limitAccountAttempt(address)
        let invalidCode = APIError(.badRequest, "invalid_code", "The code is wrong or was replaced by a newer one.")
        let (identity, login) = try await signIn(address: address, names: names, unverified: invalidCode) {
            .answeringCode(login: $0, password: password, email: address, code: code)
        }
        logger.info("e-mail address verified", metadata: ["user": "\(identity.userID)", "login": "\(login)"])
        return try await issueTokens(for: identity, login: login, email: address)
    }

    /// `POST /v1/auth/verify/resend {"email","password"}` -> 202: Tinode mails a new code (the old
    /// one stops working, and the count of wrong answers starts again). 409 `already_verified`,
    /// 401 `invalid_credentials`.
    func resendCode(email: String, password: String, from client: ClientIP?) async throws -> String {
        try requireVerification()
        try await limitAuthAttempt(from: client)
        let (address, names) = try loginCandidates(email: email, password: password)
        // A password check like login's (401 or not): the account's budget.
        try await limitAccountAttempt(address)
        for login in names {
            do {
                _ = try await pool.logIn(.basic(login: login, password: password))
                throw APIError(.conflict, "already_verified", "This account's address is verified already; log in.")
            } catch TinodeSessionError.authenticationFailed {
                continue
            } catch TinodeSessionError.validationRequired(let userID, let token, _) {
                // Each code is a mail to the address: limited per address, counted only for callers
                // who knew the password, so that strangers cannot use up the owner's allowance.
                try await limit("verify:resend:" + address, settings.verifyResends, failClosed: true)
                let ctrl: Pbx_ServerCtrl
                do {
                    ctrl = try await pool.requestCode(userID: userID, token: token, email: address)
                } catch let error as TinodeSessionError {
                    throw APIError.tinode(error)
                }
                guard ctrl.isSuccess else { throw APIError.tinode(ctrl.rejection) }
                logger.info("verification code sent again", metadata: ["user": "\(userID)", "login": "\(login)"])
                return address
            } catch let error as TinodeSessionError {
                throw APIError.tinode(error)
            }
        }
        throw Self.wrongCredentials
    }

    /// Makes the account under the canonical login name or, when that name is held by an account
    /// that is not known to have this address, under the extended one.
    func createAccount(address: String, names: [String], password: String, displayName: String) async throws -> RegistrationOutcome {
        // Without verification nothing is proven, so a held canonical name cannot be told from the
        // same address registered twice: the development mode keeps one name per address.
        let candidates = settings.emailVerification == .required ? names : Array(names.prefix(1))
        // A proven address has its account already: one account per person. That account may have
        // been made through REST-auth for a backend token, which has no basic login, and Tinode's
        // basic authenticator cannot add one to it (its UpdateRecord answers "not found" for a user
        // without a basic record), so a second account is the only thing register could make.
        if settings.emailVerification == .required, try await provenOwner(address) != nil { return .exists }
        for (index, login) in candidates.enumerated() {
            do {
                let (_, identity) = try await pool.logIn(
                    .register(login: login, password: password, name: displayName, email: address))
                return .created(identity, login: login)
            } catch TinodeSessionError.validationRequired(let userID, _, _) {
                return .pending(userID: userID, login: login)
            } catch TinodeSessionError.rejected(let code, _, _) where code == 409 {
                // Not proven (checked above): the name may be held by an account with a colliding
                // address, or by an earlier registration of this address that nobody verified.
                if index + 1 < candidates.count { continue }
                return .exists
            } catch TinodeSessionError.rejected(let code, _, _) where code == 422 {
                throw APIError(.unprocessableContent, "password_rejected", "Tinode's password policy refused this password.")
            } catch let error as TinodeSessionError {
                throw APIError.tinode(error)
            }
        }
        return .exists
    }

    /// Logs in under each of the address's login names in turn; the first account that takes the
    /// password (and, with verification required, has validated this very address) is the user's.
    /// An account that exists but is not validated answers `unverified` once no name did better.
    func signIn(
        address: String, names: [String], unverified: APIError = .emailUnverified, _ login: (String) -> TinodeSession.Login
    ) async throws -> (TinodeSession.Identity, String) {
        var sawUnverified = false
        for name in names {
            let session: TinodeSession
            let identity: TinodeSession.Identity
            do {
                (session, identity) = try await pool.logIn(login(name))
            } catch TinodeSessionError.authenticationFailed {
                continue
            } catch TinodeSessionError.validationRequired {
                sawUnverified = true
                continue
            } catch TinodeSessionError.rejected(let code, _, _) where code == 422 {
                throw APIError(
                    .unprocessableContent, "code_attempts_exceeded",
                    "Too many wrong codes for this address; request a new one (POST /v1/auth/verify/resend).")
            } catch let error as TinodeSessionError {
                throw APIError.tinode(error)
            }
            guard settings.emailVerification == .required else { return (identity, name) }
            let tags: [String]
            do {
                tags = try await session.tags()
            } catch let error as TinodeSessionError {
                throw APIError.tinode(error)
            }
            guard tags.contains("email:" + address) else {
                // The password fits an account whose validated address is another one (a held
                // canonical name): not this user's account.
                logger.notice("login name held by an account with another address", metadata: ["login": "\(name)"])
                continue
            }
            await recordProof(address, userID: identity.userID)
            return (identity, name)
        }
        if sawUnverified { throw unverified }
        throw Self.wrongCredentials
    }

    /// Whether `email` is proven to be `userID`'s (false when the store cannot say).
    func isProven(_ email: String?, for userID: String) async throws -> Bool {
        guard let email, userID.hasPrefix("usr") else { return false }
        do {
            return try await provenAddresses.owner(ofEmail: email)?.uid == String(userID.dropFirst(3))
        } catch {
            throw storeFailure(error)
        }
    }

    private func provenOwner(_ address: String) async throws -> ProvenAddress? {
        do {
            return try await provenAddresses.owner(ofEmail: address)
        } catch {
            throw storeFailure(error)
        }
    }

    /// Records that Tinode validated `address` for the user. The first proof of an address wins; a
    /// later one for another account is logged and changes nothing. A store error is logged and
    /// does not cost the user their login: the proof is written again at their next login.
    private func recordProof(_ address: String, userID: String) async {
        guard userID.hasPrefix("usr") else { return }
        do {
            if case .conflict(let existing) = try await provenAddresses.prove(
                email: address, uid: String(userID.dropFirst(3)), by: .tinodeValidation)
            {
                logger.notice(
                    "address validated by Tinode is proven for another account already; it stays with that one",
                    metadata: ["user": "\(userID)", "proven_for": "usr\(existing)"])
            }
        } catch {
            logger.warning("could not record a proven address", metadata: ["user": "\(userID)", "error": "\(error)"])
        }
    }

    private func requireVerification() throws {
        guard settings.emailVerification == .required else {
            throw APIError(.notFound, "verification_off", "E-mail verification is off on this Gateway (GATEWAY_EMAIL_VERIFICATION).")
        }
    }
}
