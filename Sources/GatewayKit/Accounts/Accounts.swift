import Foundation
import SidecarCore

/// Accounts and logins, without HTTP: what `/v1/auth/...` and `/v1/me` do, in terms of addresses,
/// passwords, tokens and callers. `GatewayHandlers` translates the contract's types to these calls
/// and their answers back; tests drive them directly.
///
/// Every method throws ``APIError`` for an answer the client should get (its status and stable code
/// are the contract's, `openapi/openapi.yaml`), anything else for an internal failure.
protocol Accounts: Sendable {
    /// Makes the account (with verification required: mails a code and answers `.pending`).
    func register(email: String, password: String, name: String?, from client: ClientIP?) async throws -> Registration
    /// A token pair for the address and password.
    func logIn(email: String, password: String, from client: ClientIP?) async throws -> IssuedTokens
    /// A token pair once Tinode accepted the code mailed to the address.
    func verifyEmail(email: String, password: String, code: String, from client: ClientIP?) async throws -> IssuedTokens
    /// Has Tinode mail a new code; answers the address it went to.
    func resendCode(email: String, password: String, from client: ClientIP?) async throws -> String
    /// A token pair for a token of the self-hoster's backend (`EXTERNAL_JWT_ISSUER`).
    func exchangeExternalToken(_ token: String, from client: ClientIP?) async throws -> IssuedTokens
    /// The next token pair of a login.
    func refresh(refreshToken: String) async throws -> IssuedTokens
    /// Ends the caller's login.
    func logOut(_ caller: Caller) async throws
    /// Ends every login of the caller's user.
    func logOutEverywhere(_ caller: Caller) async throws
    /// Who the caller is.
    func profile(of caller: Caller) async throws -> Profile
}

/// A token pair, as register, login, verify, the external exchange and refresh answer it.
struct IssuedTokens: Sendable, Equatable {
    var userID: String
    /// The basic login; nil for an account made through REST-auth.
    var login: String?
    var accessToken: String
    var refreshToken: String
    /// Seconds the access token lives.
    var expiresIn: Int
}

/// What register did.
enum Registration: Sendable, Equatable {
    /// The account is made and logged in (verification off).
    case created(IssuedTokens)
    /// A code was mailed, or the address has an account already: the same answer for both, so that
    /// register does not tell who has an account.
    case pending(email: String)
}

/// `GET /v1/me`.
struct Profile: Sendable, Equatable {
    var userID: String
    var login: String?
    var email: String?
    var emailVerified: Bool
    var name: String?
}
