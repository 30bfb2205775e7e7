import Foundation
import Logging
import SidecarCore

/// The eight REST-auth endpoints, independent of HTTP: a request in, the answer Tinode parses out.
///
/// Two kinds of secrets log users in (architecture.md, "Identity model"):
/// * the Gateway's access JWTs (`user_id` + `access_id`): valid only while the `access_id` is in the
///   token store, so logout and revocation take effect at once;
/// * JWTs from the self-hoster's backend (`EXTERNAL_JWT_ISSUER`), identified by `(iss, sub)`
///   (``IdentityLinkStore``). Their `email` is an attribute; it joins an existing account only when the
///   token says it is verified **and** the account proved that address (``ProvenAddressStore``).
///
/// `auth` of an external token, in this order:
/// 1. the subject is linked: its uid (whatever address the token carries now);
/// 2. the address is verified and proven by an account: the subject is linked to that account;
/// 3. the address is verified and has a link of the old e-mail layout: that link becomes the
///    subject's (migration), and the address is proven for it;
/// 4. otherwise `newacc`: Tinode creates an account, `link` (or `add`) stores the subject, and a
///    verified address is proven for the new account (the first proof wins; a conflict is logged).
/// An unverified address therefore never reaches anyone else's account: whoever registers
/// `victim@corp.com` somewhere without proving it gains nothing when the owner logs in later.
public struct RESTAuthService: Sendable {
    let tokens: TokenService
    /// Our own access tokens and their records, remembered per token.
    let accessTokens: AccessTokenAuthenticator
    let external: ExternalTokenVerifier?
    let tokenStore: any TokenStore
    let links: any IdentityLinkStore
    let proofs: any ProvenAddressStore
    let loginNames: LoginNameMapper
    let settings: RESTAuthSettings
    let logger: Logger
    /// Marks of revoked Tinode tokens; `del` sets one, so the deleted user's tokens stop at FireHose.
    let tinodeRevocations: (any TinodeTokenRevocations)?
    /// Tells every Gateway instance that a deleted user's logins ended (their streams end at once).
    let revocationNotices: (any RevocationNotices)?

    public init(
        tokens: TokenService, external: ExternalTokenVerifier?, tokenStore: any TokenStore, links: any IdentityLinkStore,
        proofs: any ProvenAddressStore, loginNames: LoginNameMapper, settings: RESTAuthSettings,
        logger: Logger = Logger(label: "AuthPlugin.RESTAuth"), tinodeRevocations: (any TinodeTokenRevocations)? = nil,
        revocationNotices: (any RevocationNotices)? = nil
    ) {
        self.tinodeRevocations = tinodeRevocations
        self.revocationNotices = revocationNotices
        self.tokens = tokens
        self.accessTokens = AccessTokenAuthenticator(tokens: tokens, store: tokenStore)
        self.external = external
        self.tokenStore = tokenStore
        self.links = links
        self.proofs = proofs
        self.loginNames = loginNames
        self.settings = settings
        self.logger = logger
    }

    /// Who a secret belongs to.
    enum Identity: Equatable {
        /// A Gateway user: the uid is known from the token.
        case gateway(uid: String)
        /// A subject of the external issuer.
        case external(ExternalIdentity)
    }

    /// What a verified external token says about its user.
    struct ExternalIdentity: Equatable {
        let subject: ExternalSubject
        /// Normalised.
        let email: String
        /// Whether the issuer vouches for `email` (`EXTERNAL_JWT_EMAIL_VERIFIED_CLAIM`).
        let emailVerified: Bool
        /// `email`'s login name.
        let login: String
        /// The `name` claim, trimmed; nil when absent or blank.
        let name: String?

        /// `newacc.public.fn`: the name, else the address's local part (never the whole address, which
        /// Tinode shows to everyone who finds the user).
        var displayName: String {
            if let name { return name }
            guard let at = email.lastIndex(of: "@") else { return login }
            return String(email[..<at])
        }

        /// `email:<address>` only when verified (an unverified address is not the user's to claim in
        /// searches), and `rest:<login name>`.
        var tags: [String] { (emailVerified ? ["email:\(email)"] : []) + ["rest:\(login)"] }
    }

    /// Answers one request. Never throws: every failure is an `err` Tinode understands.
    public func handle(_ request: RESTAuthRequest) async -> RESTAuthResponse {
        guard let endpoint = RESTAuthEndpoint(rawValue: request.endpoint) else { return .failure(.unsupported) }
        do {
            switch endpoint {
            case .auth: return try await authenticate(request)
            case .link: return try await link(request)
            case .checkunique: return try await checkUnique(request)
            case .add: return try await add(request)
            case .upd: return try await update(request)
            case .del: return try await delete(request)
            case .gen: return .failure(.unsupported)
            case .rtagns: return RESTAuthResponse(strarr: settings.restrictedNamespaces)
            }
        } catch {
            return .failure(error)
        }
    }

    /// The answer to a request that needs no I/O, or nil: `rtagns`, and `auth` with a token remembered
    /// together with its record while Valkey reports no change of it, which is nearly every `auth`.
    /// The routes answer these at once and run the rest through ``handle(_:)`` under the request's
    /// deadline (a task and a timer, of no use to a request that cannot wait for anything).
    public func answerFromMemory(_ request: RESTAuthRequest) -> RESTAuthResponse? {
        switch RESTAuthEndpoint(rawValue: request.endpoint) {
        case .rtagns:
            return RESTAuthResponse(strarr: settings.restrictedNamespaces)
        case .auth:
            guard let key = Self.tokenKey(request.secret) else { return nil }
            do {
                guard case .gateway(let uid)? = try identifyFromMemory(key) else { return nil }
                return RESTAuthResponse(rec: Self.knownUser(uid))
            } catch {
                return .failure(error)
            }
        default:
            return nil
        }
    }

    // MARK: Endpoints

    private func authenticate(_ request: RESTAuthRequest) async throws(RESTAuthError) -> RESTAuthResponse {
        switch try await identify(request.secret) {
        case .gateway(let uid):
            return RESTAuthResponse(rec: Self.knownUser(uid))
        case .external(let identity):
            if let uid = try await account(of: identity) {
                return RESTAuthResponse(rec: Self.knownUser(uid))
            }
            guard settings.allowNewAccounts else { return .failure(.notFound) }
            // No `uid` key: Tinode creates the account, then calls `link` with the new uid.
            return RESTAuthResponse(
                rec: .init(authlvl: "auth", features: "V", tags: identity.tags, state: "ok"),
                newacc: .init(auth: "JRWPAS", anon: "N", public: .init(fn: identity.displayName)))
        }
    }

    private func link(_ request: RESTAuthRequest) async throws(RESTAuthError) -> RESTAuthResponse {
        let uid = try Self.uid(of: request)
        switch try await identify(request.secret) {
        case .gateway(let own):
            return own == uid ? .empty : .failure(.duplicateValue)
        case .external(let identity):
            try await store(identity, uid: uid, relink: false)
            await prove(identity, uid: uid)
            return .empty
        }
    }

    private func checkUnique(_ request: RESTAuthRequest) async throws(RESTAuthError) -> RESTAuthResponse {
        switch try await identify(request.secret) {
        case .gateway:
            // A Gateway token belongs to an account that exists already.
            return .failure(.duplicateValue)
        case .external(let identity):
            // `boolval: false` without `err` would make Tinode answer "200 ok" to a failed {acc}.
            return try await linkedUID(identity.subject) == nil ? RESTAuthResponse(boolval: true) : .failure(.duplicateValue)
        }
    }

    private func add(_ request: RESTAuthRequest) async throws(RESTAuthError) -> RESTAuthResponse {
        let uid = try Self.uid(of: request)
        guard case .external(let identity) = try await identify(request.secret) else {
            return .failure(.duplicateValue)
        }
        try await store(identity, uid: uid, relink: false)
        await prove(identity, uid: uid)
        // Tinode dereferences `rec` of an `add` answer: it is always there on success.
        return RESTAuthResponse(rec: .init(uid: uid, authlvl: "auth", features: "V", tags: identity.tags))
    }

    private func update(_ request: RESTAuthRequest) async throws(RESTAuthError) -> RESTAuthResponse {
        let uid = try Self.uid(of: request)
        switch try await identify(request.secret) {
        case .gateway(let own):
            return own == uid ? .empty : .failure(.failed)
        case .external(let identity):
            try await store(identity, uid: uid, relink: true)
            await prove(identity, uid: uid)
            return .empty
        }
    }

    private func delete(_ request: RESTAuthRequest) async throws(RESTAuthError) -> RESTAuthResponse {
        let uid = try Self.uid(of: request)
        do {
            _ = try await links.unlink(uid: uid)
            try await proofs.forget(uid: uid)
            try await tinodeRevocations?.revoke(userID: "usr" + uid, issuedBefore: Date())
            // Every login: access records and (in Valkey) refresh families.
            _ = try await tokenStore.deleteAll(userID: "usr" + uid)
        } catch {
            logger.error(
                "REST-auth del: could not remove the user's links, proofs or tokens", metadata: ["uid": "\(uid)", "error": "\(error)"])
            throw .internal
        }
        do {
            try await revocationNotices?.publish(RevocationNotice(userID: "usr" + uid))
        } catch {
            // The logins are gone from the store; Gateway instances find that out at their next check.
            logger.warning("REST-auth del: could not tell the Gateways", metadata: ["uid": "\(uid)", "error": "\(error)"])
        }
        // `{}` lets the deletion proceed; `unsupported` would block it (405).
        return .empty
    }

    // MARK: Identity

    func identify(_ secret: [UInt8]?) async throws(RESTAuthError) -> Identity {
        guard let key = Self.tokenKey(secret) else { throw .malformed }
        let token = key.token
        // A token remembered is one of ours: its issuer is not read again, and it is answered with the
        // one look-up of the token (its record too, while Valkey reports no change).
        let remembered: AuthenticatedAccessToken?
        do {
            remembered = try await accessTokens.authenticateRemembered(key)
        } catch {
            throw refused(error)
        }
        if let remembered { return try gatewayIdentity(remembered) }
        // Unreadable tokens (no issuer to read) go to our own verifier, which says why.
        let issuer = TokenService.unverifiedIssuer(of: token)
        if issuer == tokens.issuer || issuer == nil {
            let verified: AuthenticatedAccessToken
            do {
                verified = try await accessTokens.authenticateNew(key)
            } catch {
                throw refused(error)
            }
            return try gatewayIdentity(verified)
        }
        if let external, issuer == external.settings.issuer {
            let claims: ExternalTokenClaims
            do {
                claims = try await external.verify(token)
            } catch {
                throw refused(Self.mapped(error), reason: error.code, kind: "external")
            }
            do {
                let email = try LoginNameMapper.normalise(claims.email)
                let login = try loginNames.loginName(for: email)
                let name = claims.name?.trimmingCharacters(in: .whitespacesAndNewlines)
                return .external(
                    ExternalIdentity(
                        subject: ExternalSubject(issuer: claims.issuer, subject: claims.subject), email: email,
                        emailVerified: claims.emailVerified, login: login, name: name?.isEmpty == false ? name : nil))
            } catch {
                throw refused(.failed, reason: "email_not_an_address", kind: "external")
            }
        }
        // A JWT from an issuer we do not trust.
        throw refused(.failed, reason: "unknown_issuer", kind: "unknown")
    }

    /// ``identify(_:)`` of a token remembered with its current record; nil when that needs I/O.
    private func identifyFromMemory(_ key: AccessTokenKey) throws(RESTAuthError) -> Identity? {
        let remembered: AuthenticatedAccessToken?
        do {
            remembered = try accessTokens.authenticateFromMemory(key)
        } catch {
            throw refused(error)
        }
        guard let remembered else { return nil }
        return try gatewayIdentity(remembered)
    }

    /// The secret as a token; nil when it is empty or not UTF-8 (`malformed`).
    static func tokenKey(_ secret: [UInt8]?) -> AccessTokenKey? {
        guard let secret, !secret.isEmpty, let token = String(validating: secret, as: UTF8.self) else { return nil }
        return AccessTokenKey(token)
    }

    /// The Gateway user of an access token that checked out.
    private func gatewayIdentity(_ token: AuthenticatedAccessToken) throws(RESTAuthError) -> Identity {
        guard let uid = Self.bareUID(token.record.userID) else { throw refused(.failed, reason: "user_mismatch", kind: "gateway") }
        return .gateway(uid: uid)
    }

    /// Why our own access token was refused, as Tinode is told. A missing record means logged out or
    /// revoked, which the user sees as expiry; a store that cannot answer is our outage.
    private func refused(_ failure: AccessTokenFailure) -> RESTAuthError {
        switch failure {
        case .rejected(let rejection): refused(Self.mapped(rejection), reason: rejection.code, kind: "gateway")
        case .revoked: refused(.expired, reason: "revoked", kind: "gateway")
        case .otherUser: refused(.failed, reason: "user_mismatch", kind: "gateway")
        case .storeUnavailable: .internal
        }
    }

    /// Logs why a secret was refused (never the secret) and returns the answer for Tinode.
    private func refused(_ error: RESTAuthError, reason: String, kind: String) -> RESTAuthError {
        if error != .internal {
            logger.info("REST-auth: token refused", metadata: ["reason": "\(reason)", "token": "\(kind)", "answer": "\(error.rawValue)"])
        }
        return error
    }

    /// The account an external identity logs in to, or nil when it needs one of its own (steps 1 to 3
    /// of the type's rule).
    private func account(of identity: ExternalIdentity) async throws(RESTAuthError) -> String? {
        if let uid = try await linkedUID(identity.subject) { return uid }
        // An address the token does not vouch for never joins an existing account.
        guard identity.emailVerified else { return nil }
        do {
            if let owner = try await proofs.owner(ofEmail: identity.email) {
                switch try await links.link(identity.subject, uid: owner.uid, email: identity.email) {
                case .created:
                    logger.info(
                        "REST-auth: external subject linked to the account that proved its verified address",
                        metadata: ["uid": "\(owner.uid)", "subject": "\(identity.subject)", "proof": "\(owner.proof.rawValue)"])
                    return owner.uid
                case .alreadyLinked:
                    return owner.uid
                case .conflict(let existing):
                    // Linked by a request that ran at the same time: the subject keeps that account.
                    return existing
                }
            }
            if let uid = try await links.adoptLegacyLink(email: identity.email, for: identity.subject) {
                logger.notice(
                    "REST-auth: e-mail link of the old layout adopted by a verified token's subject",
                    metadata: ["uid": "\(uid)", "subject": "\(identity.subject)"])
                await prove(identity, uid: uid)
                return uid
            }
            return nil
        } catch {
            logger.error("REST-auth: identity stores unavailable", metadata: ["error": "\(error)"])
            throw .internal
        }
    }

    private func linkedUID(_ subject: ExternalSubject) async throws(RESTAuthError) -> String? {
        do {
            return try await links.uid(for: subject)
        } catch {
            logger.error("REST-auth: identity link store unavailable", metadata: ["error": "\(error)"])
            throw .internal
        }
    }

    private func store(_ identity: ExternalIdentity, uid: String, relink: Bool) async throws(RESTAuthError) {
        let outcome: LinkOutcome
        do {
            outcome =
                relink
                ? try await links.relink(uid: uid, to: identity.subject, email: identity.email)
                : try await links.link(identity.subject, uid: uid, email: identity.email)
        } catch {
            logger.error("REST-auth: identity link store unavailable", metadata: ["error": "\(error)"])
            throw .internal
        }
        switch outcome {
        case .created, .alreadyLinked: return
        case .conflict(let existing):
            logger.info(
                "REST-auth: subject already linked to another user", metadata: ["uid": "\(uid)", "linked_uid": "\(existing)"])
            throw .duplicateValue
        }
    }

    /// Proves a verified address for `uid`, the account its subject is now linked to. The first proof
    /// wins: when another account proved the address already, that is logged and nothing changes. A
    /// store failure is logged too, not answered: the link is written, and failing Tinode's `link`
    /// would make it delete the new user while the link stayed.
    private func prove(_ identity: ExternalIdentity, uid: String) async {
        guard identity.emailVerified else { return }
        do {
            switch try await proofs.prove(email: identity.email, uid: uid, by: .externalToken) {
            case .created:
                logger.info("REST-auth: verified address proven for the account", metadata: ["uid": "\(uid)"])
            case .alreadyProven:
                break
            case .conflict(let existing):
                logger.warning(
                    "REST-auth: verified address already proven by another account, not proven again",
                    metadata: ["uid": "\(uid)", "proven_uid": "\(existing)"])
            }
        } catch {
            logger.error("REST-auth: could not record the address proof", metadata: ["uid": "\(uid)", "error": "\(error)"])
        }
    }

    // MARK: Helpers

    static func knownUser(_ uid: String) -> RESTAuthResponse.Record {
        // `undef`: Tinode checks the account's real state (suspension, deletion by its GC).
        RESTAuthResponse.Record(uid: uid, authlvl: "auth", features: "V", state: "undef")
    }

    /// The `rec.uid` of a request, checked to be Tinode's 11-character base64url form.
    static func uid(of request: RESTAuthRequest) throws(RESTAuthError) -> String {
        guard let uid = request.record?.uid, isTinodeUID(uid) else { throw .malformed }
        return uid
    }

    /// `usrAbCdEfGhIjK` -> `AbCdEfGhIjK`.
    static func bareUID(_ userID: String) -> String? {
        guard userID.hasPrefix("usr") else { return nil }
        let uid = String(userID.dropFirst(3))
        return isTinodeUID(uid) ? uid : nil
    }

    static func isTinodeUID(_ text: String) -> Bool {
        text.utf8.count == 11
            && text.utf8.allSatisfy { byte in
                (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2D
                    || byte == 0x5F
            }
    }

    static func mapped(_ rejection: TokenRejection) -> RESTAuthError {
        switch rejection {
        case .expired: .expired
        case .malformed: .malformed
        case .keysUnavailable: .internal
        default: .failed
        }
    }
}
