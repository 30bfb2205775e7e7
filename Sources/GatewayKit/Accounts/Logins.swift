import Foundation
import SidecarCore

/// What a refresh needs to issue the next access token, kept with the refresh family.
struct FamilyPayload: Codable {
    var userID: String
    var tinodeToken: String
    var tinodeTokenExpires: Date
    var login: String?
    var email: String?
    /// When the login started; a family older than the user's logout-all is refused at refresh
    /// (nil in families written before this field existed: those are judged by the store alone).
    var startedAt: Date?
}

extension GatewayAPI: Accounts {
    /// `POST /v1/auth/register {"email","password","name"}`. The account is made in Tinode with
    /// `basic` (login = the address's login name, the address as an `email` credential, public `fn` =
    /// `name` or the address's local part, never the whole address).
    ///
    /// With `GATEWAY_EMAIL_VERIFICATION=required`: 202 `{"verification":"pending","email"}` whether
    /// the address is new or has an account already, so that register does not tell who has an
    /// account; Tinode mails a code to new addresses, and `POST /v1/auth/verify` completes it. Off
    /// (development): 201 with a token pair, 409 `email_taken` for a known address.
    func register(email: String, password: String, name: String?, from client: ClientIP?) async throws -> Registration {
        let name = name ?? ""
        let address = try normalisedAddress(email)
        let names = try mappedLogins(address)
        try checkPassword(password)
        try await limitAuthAttempt(from: client)
        let displayName = name.isEmpty ? Self.localPart(of: address) : name
        let outcome = try await createAccount(address: address, names: names, password: password, displayName: displayName)
        switch (outcome, settings.emailVerification) {
        case (.created(let identity, let login), .off):
            logger.info("registered", metadata: ["user": "\(identity.userID)", "login": "\(login)"])
            return .created(try await issueTokens(for: identity, login: login, email: address))
        case (.created(let identity, let login), .required):
            // Tinode logged the new account in without asking for the code: its e-mail validator is
            // not set up as required. Nothing is proven, so no tokens.
            logger.error(
                "Tinode created an account without e-mail validation although GATEWAY_EMAIL_VERIFICATION=required; configure acc_validation.email with required [\"auth\"] (tinode-config/README.md)",
                metadata: ["user": "\(identity.userID)", "login": "\(login)"])
            await pool.close(userID: identity.userID)
            throw APIError(
                .serviceUnavailable, "verification_unavailable", "E-mail verification is not available; the operator must configure it.",
                retryAfter: .seconds(60))
        case (.pending(let userID, let login), _):
            logger.info("registered; address not verified yet", metadata: ["user": "\(userID)", "login": "\(login)"])
            return .pending(email: address)
        case (.exists, .required):
            return .pending(email: address)
        case (.exists, .off):
            throw APIError(.conflict, "email_taken", "An account with this address exists already.")
        }
    }

    /// `POST /v1/auth/login {"email","password"}` -> 200 with a token pair; one answer for a wrong
    /// address or password alike. With verification required, an account whose address is not
    /// verified yet gets 403 `email_unverified`, never tokens.
    func logIn(email: String, password: String, from client: ClientIP?) async throws -> IssuedTokens {
        try await limitAuthAttempt(from: client)
        let (address, names) = try loginCandidates(email: email, password: password)
        try await limitAccountAttempt(address)
        let (identity, login) = try await signIn(address: address, names: names) { .basic(login: $0, password: password) }
        return try await issueTokens(for: identity, login: login, email: address)
    }

    /// `POST /v1/auth/refresh {"refresh_token"}` -> 200 with a new pair. Each refresh token works
    /// once; presenting a used one ends every login of the user (a copied token was used), except
    /// within `GATEWAY_REFRESH_RETRY_SECONDS` of its rotation, when it answers the same new pair
    /// again (a retry after a lost answer). The access token the refresh replaces keeps working for
    /// `GATEWAY_REFRESH_GRACE_SECONDS`, then stops.
    func refresh(refreshToken presented: String) async throws -> IssuedTokens {
        let invalid = APIError(.unauthorized, "invalid_refresh_token", "The refresh token is invalid, expired or used.")
        guard let claims = try? await tokens.verifyRefreshToken(presented) else { throw invalid }
        // Per login and per user: a client looping refreshes costs a bounded amount of work.
        try await limit("refresh:login:" + claims.familyID, settings.refreshes)
        try await limit(
            "refresh:user:" + claims.userID,
            RateLimit(capacity: settings.refreshes.capacity * 5, perSecond: settings.refreshes.perSecond * 5))
        let proposed = RefreshSuccessor(refreshID: Self.randomID(), accessID: Self.randomID())
        let rotation: RefreshRotation
        do {
            rotation = try await refreshFamilies.rotate(
                familyID: claims.familyID, presented: claims.refreshID, next: proposed, payload: nil, ttl: tokens.refreshTTL,
                retryWindow: settings.refreshRetryWindow)
        } catch {
            throw storeFailure(error)
        }
        let payloadData: Data
        let successor: RefreshSuccessor
        switch rotation {
        case .reused:
            logger.warning("refresh token reused: every login of the user ended", metadata: ["user": "\(claims.userID)"])
            try await endEveryLogin(of: claims.userID)
            throw invalid
        case .unknownFamily:
            throw invalid
        case .rotated(let stored):
            (payloadData, successor) = (stored, proposed)
        case .retried(let stored, let chosen):
            // The client did not get the answer to its first try (or lost it): the same pair again,
            // its access record written again in case the first try failed before writing it.
            logger.debug("refresh retried: the same pair again", metadata: ["user": "\(claims.userID)"])
            (payloadData, successor) = (stored, chosen)
        }
        guard let payload = try? JSONDecoder().decode(FamilyPayload.self, from: payloadData), payload.userID == claims.userID
        else { throw invalid }
        if let started = payload.startedAt, let mark = try await revocationMark(of: payload.userID), started < mark {
            // Ended by a logout-all after this login began (the store may keep the family when it
            // is not Valkey's, whose logout-all deletes it).
            try? await refreshFamilies.revoke(familyID: claims.familyID)
            throw invalid
        }
        var tinodeToken = payload.tinodeToken
        var expires = payload.tinodeTokenExpires
        // A live session logged in again by token since and holds a fresher one (Tinode's tokens slide).
        if let session = await pool.existingSession(userID: payload.userID), let identity = await session.identity {
            tinodeToken = identity.token.base64EncodedString()
            expires = identity.tokenExpires ?? expires
        }
        // Less than half of the Tinode token's life left: get a new one with the new access token
        // (the family keeps it, so a user away for longer than Tinode's expire_in is not logged out).
        let renewal: FamilyPayload? =
            expires.timeIntervalSinceNow < TimeInterval(settings.tinodeTokenLifetime.components.seconds) / 2 ? payload : nil
        let issued = try await issueAccess(
            userID: payload.userID, tinodeToken: tinodeToken, tinodeExpires: expires, login: payload.login, email: payload.email,
            familyID: claims.familyID, refreshID: successor.refreshID, accessID: successor.accessID, renewing: renewal)
        do {
            try await tokenStore.retireFamily(claims.familyID, except: successor.accessID, within: settings.refreshGrace)
        } catch {
            // The new pair is issued; the old access token then lives out its own (short) life.
            logger.warning("could not retire the replaced access token", metadata: ["error": "\(error)"])
        }
        return issued
    }

    /// `POST /v1/auth/logout` (Bearer) -> 204: this login ends (its refresh family and every access
    /// token it produced); on every instance, its live streams end with `revoked` and the user's
    /// Tinode session is closed.
    func logOut(_ caller: Caller) async throws {
        let family = caller.record.refreshFamilyID ?? caller.record.accessID
        do {
            _ = try await tokenStore.revokeFamily(family, userID: caller.userID)
            try await tokenStore.delete(accessID: caller.record.accessID)
            if let family = caller.record.refreshFamilyID { try await refreshFamilies.revoke(familyID: family) }
        } catch {
            throw storeFailure(error)
        }
        await announce(RevocationNotice(userID: caller.userID, familyID: family))
    }

    /// `POST /v1/auth/logout-all` (Bearer) -> 204: every login of the user ends, and so do the Tinode
    /// tokens issued before now (AuthPlugin's FireHose refuses them at token login).
    func logOutEverywhere(_ caller: Caller) async throws {
        try await endEveryLogin(of: caller.userID)
        if let family = caller.record.refreshFamilyID { try? await refreshFamilies.revoke(familyID: family) }
    }

    /// Every access token and login of the user, the user's Tinode tokens issued until now, and, on
    /// every instance, the user's live streams and Tinode session.
    func endEveryLogin(of userID: String) async throws {
        do {
            // The mark first: should the second step fail, refreshes of the remaining logins are refused.
            try await tinodeRevocations.revoke(userID: userID, issuedBefore: Date())
            _ = try await tokenStore.deleteAll(userID: userID)
        } catch {
            throw storeFailure(error)
        }
        await announce(RevocationNotice(userID: userID))
    }

    private func revocationMark(of userID: String) async throws -> Date? {
        do {
            return try await tinodeRevocations.revokedBefore(userID: userID)
        } catch {
            throw storeFailure(error)
        }
    }

    /// `GET /v1/me` -> who the token belongs to.
    func profile(of caller: Caller) async throws -> Profile {
        let session = try await session(for: caller)
        let name = try await tinodeCall { try await session.displayName() }
        return Profile(
            userID: caller.userID, login: caller.record.login, email: caller.record.email,
            emailVerified: try await isProven(caller.record.email, for: caller.userID), name: name)
    }

    // MARK: - Helpers

    /// One answer for a wrong address and a wrong password alike, so that login does not tell who
    /// has an account.
    static let wrongCredentials = APIError(.unauthorized, "invalid_credentials", "Wrong e-mail address or password.")

    /// The normalised address of a login attempt and its login names (canonical, then extended);
    /// ``wrongCredentials`` for an address that maps to none, or an empty password.
    func loginCandidates(email: String, password: String) throws(APIError) -> (address: String, names: [String]) {
        guard let address = try? LoginNameMapper.normalise(email), let names = try? loginNames.loginNames(for: address),
            !password.isEmpty
        else { throw Self.wrongCredentials }
        return (address, names)
    }

    private func normalisedAddress(_ email: String) throws -> String {
        do {
            return try LoginNameMapper.normalise(email)
        } catch {
            throw APIError(.unprocessableContent, "invalid_email", "This is not an e-mail address we can use: \(error).")
        }
    }

    /// The canonical login name, then the extended one (README, Login names).
    func mappedLogins(_ address: String) throws -> [String] {
        do {
            return try loginNames.loginNames(for: address)
        } catch {
            throw APIError(.unprocessableContent, "invalid_email", "This is not an e-mail address we can use: \(error).")
        }
    }

    /// What `fn` shows when the user gave no name: the local part, so that room members and
    /// `/v1/users` never see the whole address.
    static func localPart(of address: String) -> String {
        guard let at = address.lastIndex(of: "@") else { return address }
        return String(address[..<at])
    }

    func checkPassword(_ password: String) throws {
        guard !password.isEmpty else { throw APIError(.unprocessableContent, "password_rejected", "The password is empty.") }
        // bcrypt (Tinode's basic authenticator) refuses more than 72 bytes with an internal error.
        guard password.utf8.count <= 72 else {
            throw APIError(.unprocessableContent, "password_rejected", "The password is longer than 72 bytes.")
        }
    }

    /// A new login: a new refresh family and a first access token.
    func issueTokens(for identity: TinodeSession.Identity, login: String?, email: String?) async throws -> IssuedTokens {
        let familyID = Self.randomID()
        let refreshID = Self.randomID()
        let tinodeToken = identity.token.base64EncodedString()
        let expires = identity.tokenExpires ?? Date().addingTimeInterval(14 * 86_400)
        let payload = FamilyPayload(
            userID: identity.userID, tinodeToken: tinodeToken, tinodeTokenExpires: expires, login: login, email: email,
            startedAt: Date())
        do {
            try await refreshFamilies.start(
                familyID: familyID, refreshID: refreshID, payload: try JSONEncoder().encode(payload), ttl: tokens.refreshTTL)
        } catch {
            throw storeFailure(error)
        }
        return try await issueAccess(
            userID: identity.userID, tinodeToken: tinodeToken, tinodeExpires: expires, login: login, email: email, familyID: familyID,
            refreshID: refreshID, accessID: Self.randomID())
    }

    /// Stores the access record and answers the token pair. With `renewing` (the family's payload),
    /// the user's Tinode token is renewed first (`renewTinodeToken`).
    private func issueAccess(
        userID: String, tinodeToken: String, tinodeExpires: Date, login: String?, email: String?, familyID: String, refreshID: String,
        accessID: String, renewing renewal: FamilyPayload? = nil
    ) async throws -> IssuedTokens {
        var record = TokenRecord(
            accessID: accessID, userID: userID, tinodeToken: tinodeToken, tinodeTokenExpires: tinodeExpires, createdAt: Date(),
            login: login, email: email, refreshFamilyID: familyID)
        do {
            try await tokenStore.put(record, ttl: tokens.accessTTL)
        } catch {
            throw storeFailure(error)
        }
        let access = try await tokens.issueAccessToken(userID: userID, accessID: accessID)
        if let renewal { await renewTinodeToken(of: &record, family: familyID, payload: renewal, accessToken: access.token) }
        let refresh = try await tokens.issueRefreshToken(userID: userID, refreshID: refreshID, familyID: familyID)
        return IssuedTokens(
            userID: userID, login: login, accessToken: access.token, refreshToken: refresh.token,
            expiresIn: Int(tokens.accessTTL.components.seconds))
    }

    /// Logs in to Tinode with scheme `rest` and the new access token (AuthPlugin vouches for it,
    /// as for Tinode's own clients): Tinode answers with a token of a full `expire_in`, which
    /// replaces the old one in the access record and the family. Tinode's tokens are kept short
    /// (tinode.conf) because Tinode cannot revoke one; this is how a long login lives with them.
    /// Best effort: when Tinode or REST-auth does not answer, the old token stays (and works until
    /// it expires; the next refresh tries again).
    private func renewTinodeToken(of record: inout TokenRecord, family familyID: String, payload: FamilyPayload, accessToken: String) async
    {
        let identity: TinodeSession.Identity
        do {
            (_, identity) = try await pool.logIn(.rest(token: accessToken))
        } catch {
            logger.info(
                "could not renew the user's Tinode token; the old one stays", metadata: ["user": "\(record.userID)", "error": "\(error)"])
            return
        }
        guard identity.userID == record.userID else {
            logger.error(
                "Tinode's rest login answered for another user; token not renewed",
                metadata: ["user": "\(record.userID)", "answered": "\(identity.userID)"])
            return
        }
        let renewed = identity.token.base64EncodedString()
        let expires = identity.tokenExpires ?? Date().addingTimeInterval(TimeInterval(settings.tinodeTokenLifetime.components.seconds))
        var updated = record
        updated.tinodeToken = renewed
        updated.tinodeTokenExpires = expires
        var nextPayload = payload
        nextPayload.tinodeToken = renewed
        nextPayload.tinodeTokenExpires = expires
        do {
            try await tokenStore.put(updated, ttl: tokens.accessTTL)
            record = updated
            try await refreshFamilies.replacePayload(familyID: familyID, payload: try JSONEncoder().encode(nextPayload))
        } catch {
            logger.warning("could not store the renewed Tinode token", metadata: ["user": "\(record.userID)", "error": "\(error)"])
        }
    }

    /// 128 random bits, base64url without padding.
    static func randomID() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
