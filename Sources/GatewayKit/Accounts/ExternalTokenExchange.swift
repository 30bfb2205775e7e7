import Foundation
import SidecarCore

/// `POST /v1/auth/external {"token"}`: a JWT of the self-hoster's backend (`EXTERNAL_JWT_ISSUER`)
/// for a Gateway token pair, for the same Tinode account the token opens in Tinode's own clients.
///
/// The Gateway does not decide whose token it is. It logs in to Tinode with scheme `rest` and the
/// token as the secret; Tinode asks AuthPlugin, which verifies the token and answers the account of
/// its `(iss, sub)`, links it to the account that proved its verified address, or has Tinode create
/// one (README, "External identities"). The Gateway takes the user id from Tinode's answer, and the
/// address it shows from the proofs, never from the token's claims. This is how a user who came
/// from the backend first reaches the Gateway's API: Tinode cannot add a password login to an
/// account that REST-auth made.
extension GatewayAPI {
    func exchangeExternalToken(_ token: String, from client: ClientIP?) async throws -> IssuedTokens {
        guard let issuer = settings.externalIssuer else {
            throw APIError(.notFound, "external_login_off", "No backend issuer is configured (EXTERNAL_JWT_ISSUER).")
        }
        try await limitAuthAttempt(from: client)
        // Only routing: Tinode would ask AuthPlugin about any token, and a Gateway access token
        // would log in too; this route is for the backend's tokens. AuthPlugin checks the rest.
        // (`unverifiedIssuer` also refuses tokens over the size every JWT here is held to.)
        guard TokenService.unverifiedIssuer(of: token) == issuer else { throw APIError.unauthorized }
        let identity: TinodeSession.Identity
        do {
            (_, identity) = try await pool.logIn(.rest(token: token))
        } catch TinodeSessionError.authenticationFailed, TinodeSessionError.validationRequired {
            // Refused by AuthPlugin (bad signature, expired, unknown subject with new accounts off)
            // or by Tinode (suspended account): one answer, as for every refused token.
            throw APIError.unauthorized
        } catch let error as TinodeSessionError {
            throw APIError.tinode(error)
        }
        let email = try await provenAddress(ofUser: identity.userID)
        logger.info("backend token exchanged", metadata: ["user": "\(identity.userID)"])
        return try await issueTokens(for: identity, login: nil, email: email)
    }

    /// An address proven to be the user's, if any (the first one recorded).
    private func provenAddress(ofUser userID: String) async throws -> String? {
        guard userID.hasPrefix("usr") else { return nil }
        do {
            return try await provenAddresses.addresses(ofUID: String(userID.dropFirst(3))).first
        } catch {
            throw storeFailure(error)
        }
    }
}
