import Crypto
import SidecarCore

/// The two budgets of the routes that take credentials. Both fail closed: while Valkey cannot
/// count, nobody guesses (`GatewayAPI.limit`).
///
/// * Per client (`GATEWAY_AUTH_ATTEMPTS_PER_MINUTE`): register, login, verify, resend and the
///   external exchange together, keyed by the client behind any trusted proxy (an IPv4 address, an
///   IPv6 /64), so that one client behind the proxy cannot lock out the others.
/// * Per account (`GATEWAY_LOGIN_ATTEMPTS_PER_ACCOUNT_PER_HOUR`): every route that checks a
///   password (login, verify, resend), from all clients together, so that one address cannot be
///   guessed from many clients. The price: a stranger can spend an account's allowance and keep its
///   owner out for a while (each attempt refills in 3600 / allowance seconds); nobody else is kept
///   out by it.
extension GatewayAPI {
    /// Takes one attempt from the bucket of the request's client (``RequestOrigin``; nil when the
    /// socket has no IP address: one shared bucket).
    func limitAuthAttempt(from client: ClientIP?) async throws {
        try await limit("auth:" + (client?.rateLimitBucket ?? "unknown"), settings.authAttempts, failClosed: true)
    }

    /// Takes one password try from the bucket of the account of `address` (normalised).
    func limitAccountAttempt(_ address: String) async throws {
        try await limit("auth:account:" + Self.accountBucket(address), settings.accountAttempts, failClosed: true)
    }

    /// The account's bucket name: lower-case hex SHA-256 of the normalised address, so that the
    /// store's key names hold no addresses.
    static func accountBucket(_ address: String) -> String {
        SHA256.hash(data: Array(address.utf8)).map { byte in
            let text = String(byte, radix: 16)
            return byte < 16 ? "0" + text : text
        }.joined()
    }
}
