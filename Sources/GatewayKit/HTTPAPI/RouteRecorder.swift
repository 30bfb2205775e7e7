import Foundation
import HTTPTypes
import MongoReader
import OpenAPIRuntime
import SidecarCore

/// A transport that only notes what the generated code registers (`METHOD /path`), for
/// ``GatewayAPI/operations``.
final class RouteRecorder: ServerTransport, @unchecked Sendable {
    private(set) var routes: Set<String> = []

    func register(
        _ handler: @escaping @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?),
        method: HTTPRequest.Method, path: String
    ) throws {
        routes.insert("\(method.rawValue) \(path)")
    }
}

/// Services that are never called: the generated code's registration needs handlers to exist.
struct Unserved: Accounts, Messaging {
    private func never() -> APIError { APIError(.internalServerError, "internal", "Not served.") }
    func register(email: String, password: String, name: String?, from client: ClientIP?) async throws -> Registration { throw never() }
    func logIn(email: String, password: String, from client: ClientIP?) async throws -> IssuedTokens { throw never() }
    func verifyEmail(email: String, password: String, code: String, from client: ClientIP?) async throws -> IssuedTokens { throw never() }
    func resendCode(email: String, password: String, from client: ClientIP?) async throws -> String { throw never() }
    func exchangeExternalToken(_ token: String, from client: ClientIP?) async throws -> IssuedTokens { throw never() }
    func refresh(refreshToken: String) async throws -> IssuedTokens { throw never() }
    func logOut(_ caller: Caller) async throws { throw never() }
    func logOutEverywhere(_ caller: Caller) async throws { throw never() }
    func profile(of caller: Caller) async throws -> Profile { throw never() }
    func send(_ message: OutgoingMessage, idempotencyKey: String?, as caller: Caller) async throws -> PublishReceipt { throw never() }
    func history(before: Int?, limit: Int?, for caller: Caller) async throws -> MessagePage { throw never() }
    func directoryEntry(of userID: String, for caller: Caller) async throws -> DirectoryEntry { throw never() }
}
