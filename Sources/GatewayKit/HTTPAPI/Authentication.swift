import Foundation
import Hummingbird
import SidecarCore

/// Who a request is, from its Bearer access token.
struct Caller: Sendable {
    let claims: AccessTokenClaims
    let record: TokenRecord
    var userID: String { record.userID }

    /// The caller of the generated route running now (``BearerAuthentication`` sets it for the
    /// operations the contract secures).
    @TaskLocal static var current: Caller?

    /// ``current``, or 401 when a handler of a secured operation runs without one (which the
    /// middleware does not let happen).
    static func required() throws(APIError) -> Caller {
        guard let current else { throw APIError.unauthorized }
        return current
    }
}

extension GatewayAPI {
    /// Verifies the Bearer token and finds its live record: a token whose `access_id` is gone
    /// (logout, revocation) is refused like an invalid one.
    func authenticate(_ request: Request) async throws -> Caller {
        try await authenticate(authorization: request.headers[.authorization])
    }

    /// The same from the `Authorization` header's value, or from a bare token (`bearerToken`), which
    /// WebSocket clients in browsers must pass in the query because they cannot set headers.
    func authenticate(authorization: String?, bearerToken: String? = nil) async throws -> Caller {
        let token: String
        if let header = authorization, header.count > 7, header.prefix(7).lowercased() == "bearer " {
            token = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        } else if let bearerToken, !bearerToken.isEmpty {
            token = bearerToken
        } else {
            throw APIError.unauthorized
        }
        let caller: AuthenticatedAccessToken
        do {
            caller = try await accessTokens.authenticate(token)
        } catch {
            // The store's outage is 503, never 401: it must not look like a logout.
            if case .storeUnavailable(let cause) = error { throw storeFailure(cause) }
            throw APIError.unauthorized
        }
        return Caller(claims: caller.claims, record: caller.record)
    }

    /// The caller's Tinode session (created on first use, logging in with the stored Tinode token).
    func session(for caller: Caller) async throws -> TinodeSession {
        guard let token = Data(base64Encoded: caller.record.tinodeToken) else { throw APIError.unauthorized }
        do {
            return try await pool.session(userID: caller.userID, token: token)
        } catch let error as TinodeSessionError {
            throw APIError.tinode(error)
        }
    }
}

/// Runs `body`, mapping a Tinode session error to its API error.
func tinodeCall<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as TinodeSessionError {
        throw APIError.tinode(error)
    }
}
