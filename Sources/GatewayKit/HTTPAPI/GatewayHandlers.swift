import Foundation
import GatewayContract
import MongoReader
import OpenAPIRuntime

/// The Gateway's `/v1` operations as `openapi/openapi.yaml` declares them (`APIProtocol` is
/// generated from it): each one takes the contract's input, calls ``Accounts`` or ``Messaging``,
/// and answers the contract's output. Errors are ``APIError``s, answered by ``ContractErrors``.
/// The caller of a secured operation comes from ``BearerAuthentication``, the client address from
/// ``RequestOrigin``; bodies reach these handlers only within ``JSONRequestRules``.
///
/// The live streams (SSE, WebSocket) are routes of their own beside these
/// (`openapi/openapi-generator-config.yaml` says why).
struct GatewayHandlers: APIProtocol {
    let accounts: any Accounts
    let messaging: any Messaging

    /// How the generated code writes JSON: compact with sorted keys, timestamps with milliseconds
    /// (the form Tinode uses).
    static let configuration = Configuration(
        dateTranscoder: MillisecondTimestamps(), jsonEncodingOptions: [.sortedKeys, .withoutEscapingSlashes])

    // MARK: - Accounts

    func register(_ input: Operations.Register.Input) async throws -> Operations.Register.Output {
        guard case .json(let body) = input.body else { throw Self.notJSON }
        switch try await accounts.register(email: body.email, password: body.password, name: body.name, from: RequestOrigin.client) {
        case .created(let tokens): return .created(.init(body: .json(Self.tokenPair(tokens))))
        case .pending(let email): return .accepted(.init(body: .json(Self.pending(email))))
        }
    }

    func logIn(_ input: Operations.LogIn.Input) async throws -> Operations.LogIn.Output {
        guard case .json(let body) = input.body else { throw Self.notJSON }
        let tokens = try await accounts.logIn(email: body.email, password: body.password, from: RequestOrigin.client)
        return .ok(.init(body: .json(Self.tokenPair(tokens))))
    }

    func verifyEmail(_ input: Operations.VerifyEmail.Input) async throws -> Operations.VerifyEmail.Output {
        guard case .json(let body) = input.body else { throw Self.notJSON }
        let tokens = try await accounts.verifyEmail(
            email: body.email, password: body.password, code: body.code, from: RequestOrigin.client)
        return .ok(.init(body: .json(Self.tokenPair(tokens))))
    }

    func resendCode(_ input: Operations.ResendCode.Input) async throws -> Operations.ResendCode.Output {
        guard case .json(let body) = input.body else { throw Self.notJSON }
        let email = try await accounts.resendCode(email: body.email, password: body.password, from: RequestOrigin.client)
        return .accepted(.init(body: .json(Self.pending(email))))
    }

    func exchangeExternalToken(_ input: Operations.ExchangeExternalToken.Input) async throws -> Operations.ExchangeExternalToken.Output {
        guard case .json(let body) = input.body else { throw Self.notJSON }
        let tokens = try await accounts.exchangeExternalToken(body.token, from: RequestOrigin.client)
        return .ok(.init(body: .json(Self.tokenPair(tokens))))
    }

    func refresh(_ input: Operations.Refresh.Input) async throws -> Operations.Refresh.Output {
        guard case .json(let body) = input.body else { throw Self.notJSON }
        return .ok(.init(body: .json(Self.tokenPair(try await accounts.refresh(refreshToken: body.refreshToken)))))
    }

    func logOut(_ input: Operations.LogOut.Input) async throws -> Operations.LogOut.Output {
        try await accounts.logOut(try Caller.required())
        return .noContent(.init())
    }

    func logOutEverywhere(_ input: Operations.LogOutEverywhere.Input) async throws -> Operations.LogOutEverywhere.Output {
        try await accounts.logOutEverywhere(try Caller.required())
        return .noContent(.init())
    }

    func me(_ input: Operations.Me.Input) async throws -> Operations.Me.Output {
        let profile = try await accounts.profile(of: try Caller.required())
        return .ok(
            .init(
                body: .json(
                    .init(
                        email: profile.email, emailVerified: profile.emailVerified, login: profile.login, name: profile.name,
                        userId: profile.userID))))
    }

    // MARK: - Messaging

    func sendMessage(_ input: Operations.SendMessage.Input) async throws -> Operations.SendMessage.Output {
        guard case .json(let body) = input.body else { throw Self.notJSON }
        let message: OutgoingMessage
        switch body {
        case .TextMessage(let text): message = .text(text.text)
        case .DraftyMessage(let drafty): message = .drafty(try Self.sortedJSON(drafty.content))
        }
        let receipt = try await messaging.send(message, idempotencyKey: input.headers.idempotencyKey, as: try Caller.required())
        return .created(.init(body: .json(.init(seq: receipt.seq, topic: receipt.topic, ts: receipt.timestamp))))
    }

    func history(_ input: Operations.History.Input) async throws -> Operations.History.Output {
        let page = try await messaging.history(before: input.query.before, limit: input.query.limit, for: try Caller.required())
        return .ok(.init(body: .json(.init(messages: page.messages.map(Self.message), nextBefore: page.nextBefore))))
    }

    func user(_ input: Operations.User.Input) async throws -> Operations.User.Output {
        let entry = try await messaging.directoryEntry(of: input.path.userId, for: try Caller.required())
        return .ok(.init(body: .json(.init(login: entry.login, name: entry.name, userId: entry.userID.clientForm))))
    }

    // MARK: - Translation

    /// Every operation with a body declares JSON only, so the generated code hands nothing else over.
    private static let notJSON = APIError(.unsupportedMediaType, "unsupported_media_type", "Send JSON with Content-Type: application/json.")

    static func tokenPair(_ tokens: IssuedTokens) -> Components.Schemas.TokenPair {
        .init(
            accessToken: tokens.accessToken, expiresIn: tokens.expiresIn, login: tokens.login, refreshToken: tokens.refreshToken,
            tokenType: "Bearer", userId: tokens.userID)
    }

    static func pending(_ email: String) -> Components.Schemas.VerificationPending {
        .init(email: email, verification: .pending)
    }

    /// A message as the API shows it: `text` for plain text (a JSON string in Tinode), `content` for
    /// anything else (Drafty; null when Tinode's content is not JSON).
    static func message(_ message: ChatMessage) -> Components.Schemas.Message {
        let value = try? JSONDecoder().decode(OpenAPIValueContainer.self, from: message.content)
        if let text = value?.value as? String {
            return .init(from: message.from, seq: message.seq, text: text, ts: message.timestamp)
        }
        return .init(content: value ?? OpenAPIValueContainer(nilLiteral: ()), from: message.from, seq: message.seq, ts: message.timestamp)
    }

    /// A Drafty document as Tinode gets it: JSON with sorted keys.
    private static func sortedJSON(_ object: OpenAPIObjectContainer) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return try encoder.encode(object)
        } catch {
            throw APIError.badRequest("Field `content` must be a JSON object.")
        }
    }
}

/// ``Timestamps`` for the generated code.
struct MillisecondTimestamps: DateTranscoder {
    func encode(_ date: Date) throws -> String { Timestamps.text(date) }

    func decode(_ text: String) throws -> Date {
        guard let date = Timestamps.date(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "Not an RFC 3339 timestamp."))
        }
        return date
    }
}
