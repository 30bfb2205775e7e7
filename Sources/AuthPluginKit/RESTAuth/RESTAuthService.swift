import Foundation
import Logging
import SidecarCore

/// The eight REST-auth endpoints, independent of HTTP: a request in, the answer Tinode parses out.
///
/// Two kinds of secrets log users in (architecture.md, "Identity model"):
/// * the Gateway's access JWTs (`user_id` + `access_id`): valid only while the `access_id` is in the
///   token store, so logout and revocation take effect at once;
/// * JWTs from the self-hoster's backend (`EXTERNAL_JWT_ISSUER`), identified by `email`: linked to a
///   Tinode uid on first login, when Tinode creates the account from our `newacc` answer.
public struct RESTAuthService: Sendable {
    let tokens: TokenService
    let external: ExternalTokenVerifier?
    let tokenStore: any TokenStore
    let links: any IdentityLinkStore
    let loginNames: LoginNameMapper
    let settings: RESTAuthSettings

    public init(
        tokens: TokenService, external: ExternalTokenVerifier?, tokenStore: any TokenStore, links: any IdentityLinkStore,
        loginNames: LoginNameMapper, settings: RESTAuthSettings
    ) {
        self.tokens = tokens
        self.external = external
        self.tokenStore = tokenStore
        self.links = links
        self.loginNames = loginNames
        self.settings = settings
    }

    /// Who a secret belongs to.
    enum Identity: Equatable {
        /// A Gateway user: the uid is known from the token.
        case gateway(uid: String)
        /// An external user: normalised e-mail, its login name, and the display name if given.
        case external(email: String, login: String, name: String?)
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

    // MARK: Endpoints

    private func authenticate(_ request: RESTAuthRequest) async throws(RESTAuthError) -> RESTAuthResponse {
        switch try await identify(request.secret) {
        case .gateway(let uid):
            return RESTAuthResponse(rec: Self.knownUser(uid))
        case .external(let email, let login, let name):
            if let uid = try await lookUp(email: email) {
                return RESTAuthResponse(rec: Self.knownUser(uid))
            }
            guard settings.allowNewAccounts else { return .failure(.notFound) }
            // No `uid` key: Tinode creates the account, then calls `link` with the new uid.
            return RESTAuthResponse(
                rec: .init(authlvl: "auth", features: "V", tags: Self.tags(email: email, login: login), state: "ok"),
                newacc: .init(auth: "JRWPAS", anon: "N", public: .init(fn: name ?? login)))
        }
    }

    private func link(_ request: RESTAuthRequest) async throws(RESTAuthError) -> RESTAuthResponse {
        let uid = try Self.uid(of: request)
        switch try await identify(request.secret) {
        case .gateway(let own):
            return own == uid ? .empty : .failure(.duplicateValue)
        case .external(let email, _, _):
            try await store(email: email, uid: uid, relink: false)
            return .empty
        }
    }

    private func checkUnique(_ request: RESTAuthRequest) async throws(RESTAuthError) -> RESTAuthResponse {
        switch try await identify(request.secret) {
        case .gateway:
            // A Gateway token belongs to an account that exists already.
            return .failure(.duplicateValue)
        case .external(let email, _, _):
            // `boolval: false` without `err` would make Tinode answer "200 ok" to a failed {acc}.
            return try await lookUp(email: email) == nil ? RESTAuthResponse(boolval: true) : .failure(.duplicateValue)
        }
    }

    private func add(_ request: RESTAuthRequest) async throws(RESTAuthError) -> RESTAuthResponse {
        let uid = try Self.uid(of: request)
        guard case .external(let email, let login, _) = try await identify(request.secret) else {
            return .failure(.duplicateValue)
        }
        try await store(email: email, uid: uid, relink: false)
        // Tinode dereferences `rec` of an `add` answer: it is always there on success.
        return RESTAuthResponse(rec: .init(uid: uid, authlvl: "auth", features: "V", tags: Self.tags(email: email, login: login)))
    }

    private func update(_ request: RESTAuthRequest) async throws(RESTAuthError) -> RESTAuthResponse {
        let uid = try Self.uid(of: request)
        switch try await identify(request.secret) {
        case .gateway(let own):
            return own == uid ? .empty : .failure(.failed)
        case .external(let email, _, _):
            try await store(email: email, uid: uid, relink: true)
            return .empty
        }
    }

    private func delete(_ request: RESTAuthRequest) async throws(RESTAuthError) -> RESTAuthResponse {
        let uid = try Self.uid(of: request)
        do {
            _ = try await links.unlink(uid: uid)
            _ = try await tokenStore.deleteAll(userID: "usr" + uid)
        } catch {
            throw .internal
        }
        // `{}` lets the deletion proceed; `unsupported` would block it (405).
        return .empty
    }

    // MARK: Identity

    func identify(_ secret: [UInt8]?) async throws(RESTAuthError) -> Identity {
        guard let secret, !secret.isEmpty else { throw .malformed }
        guard let token = String(validating: secret, as: UTF8.self) else { throw .malformed }
        // A token seen before needs no look at its issuer; unreadable tokens (no issuer to read) go
        // to our own verifier, which says why.
        let issuer = tokens.isKnownAccessToken(token) ? tokens.issuer : TokenService.unverifiedIssuer(of: token)
        if issuer == tokens.issuer || issuer == nil {
            let claims: AccessTokenClaims
            do {
                claims = try await tokens.verifyAccessToken(token)
            } catch {
                throw Self.mapped(error)
            }
            let record: TokenRecord?
            do {
                record = try await tokenStore.get(accessID: claims.accessID)
            } catch {
                throw .internal
            }
            // Gone from the store: logged out or revoked, which the user sees as expiry.
            guard let record else { throw .expired }
            guard record.userID == claims.userID, let uid = Self.bareUID(claims.userID) else { throw .failed }
            return .gateway(uid: uid)
        }
        if let external, issuer == external.settings.issuer {
            let claims: ExternalTokenClaims
            do {
                claims = try await external.verify(token)
            } catch {
                throw Self.mapped(error)
            }
            do {
                let email = try LoginNameMapper.normalise(claims.email)
                let login = try loginNames.loginName(for: email)
                let name = claims.name?.trimmingCharacters(in: .whitespacesAndNewlines)
                return .external(email: email, login: login, name: name?.isEmpty == false ? name : nil)
            } catch {
                throw .failed
            }
        }
        // A JWT from an issuer we do not trust.
        throw .failed
    }

    private func lookUp(email: String) async throws(RESTAuthError) -> String? {
        do {
            return try await links.uid(forEmail: email)
        } catch {
            throw .internal
        }
    }

    private func store(email: String, uid: String, relink: Bool) async throws(RESTAuthError) {
        let outcome: LinkOutcome
        do {
            outcome = relink ? try await links.relink(uid: uid, email: email) : try await links.link(email: email, uid: uid)
        } catch {
            throw .internal
        }
        switch outcome {
        case .created, .alreadyLinked: return
        case .conflict, .uidHasOtherEmail: throw .duplicateValue
        }
    }

    // MARK: Helpers

    static func knownUser(_ uid: String) -> RESTAuthResponse.Record {
        // `undef`: Tinode checks the account's real state (suspension, deletion by its GC).
        RESTAuthResponse.Record(uid: uid, authlvl: "auth", features: "V", state: "undef")
    }

    static func tags(email: String, login: String) -> [String] { ["email:\(email)", "rest:\(login)"] }

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
