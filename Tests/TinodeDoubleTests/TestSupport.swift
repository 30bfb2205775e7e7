import Foundation
import GRPCCore
import Testing
import TinodeDouble
import TinodeProto

/// Runs `body` against a fresh double and a client connected to it; stops the double afterwards.
func withDouble(
    options: TinodeDouble.Options = .init(), _ body: (TinodeDouble, DoubleConnection) async throws -> Void
) async throws {
    let double = try await TinodeDouble.start(options: options)
    do {
        try await DoubleConnection.with(port: double.port) { connection in try await body(double, connection) }
    } catch {
        await double.stop()
        throw error
    }
    await double.stop()
}

/// What a successful login hands out.
struct LoginReply {
    let user: String
    let level: String
    /// The raw 50 bytes (the `token` parameter, JSON-decoded, then base64-decoded).
    let token: Data
    let tokenText: String
    let expires: String
}

extension TestStream {
    /// `hi`, then basic login; fails the test unless both succeed.
    @discardableResult
    func logIn(_ login: String, _ password: String) async throws -> LoginReply {
        send(ClientMessage.hi())
        #expect(await nextCtrl()?.code == 201)
        send(ClientMessage.login("login", basic: login, password: password))
        return try #require(LoginReply(await nextCtrl()))
    }

    func nextCtrl(within timeout: Duration = TestTimeouts.answer) async -> Pbx_ServerCtrl? {
        guard let message = await nextMessage(within: timeout) else { return nil }
        guard case .ctrl(let ctrl) = message.message else {
            Issue.record("expected a ctrl, got \(message.kindName)")
            return nil
        }
        return ctrl
    }

    /// True when nothing arrives (not even the end of the call) for a while.
    func staysSilent(for duration: Duration = .milliseconds(300)) async -> Bool {
        let event = await next(within: duration)
        if let event { Issue.record("expected silence, got \(event)") }
        return event == nil
    }

    /// Waits for the end of the call; nil for status OK.
    func nextEnd(within timeout: Duration = TestTimeouts.answer) async -> RPCError.Code?? {
        let event = await next(within: timeout)
        guard case .end(let code) = event else {
            Issue.record("expected the call to end, got \(event.map(String.init(describing:)) ?? "nothing")")
            return .none
        }
        return .some(code)
    }
}

extension LoginReply {
    init?(_ ctrl: Pbx_ServerCtrl?) {
        guard let ctrl, ctrl.code == 200, let user = ctrl.params["user"].flatMap(decodeJSONString),
            let level = ctrl.params["authlvl"].flatMap(decodeJSONString), let text = ctrl.params["token"].flatMap(decodeJSONString),
            let token = Data(base64Encoded: text), let expires = ctrl.params["expires"].flatMap(decodeJSONString)
        else { return nil }
        self.init(user: user, level: level, token: token, tokenText: text, expires: expires)
    }
}

func decodeJSONString(_ data: Data) -> String? {
    try? JSONDecoder().decode(String.self, from: data)
}

func decodeJSONNumber(_ data: Data?) -> Int? {
    data.flatMap { try? JSONDecoder().decode(Int.self, from: $0) }
}

/// Polls until `condition` holds (state that follows a stream's end on the server side).
func eventually(within timeout: Duration = .seconds(5), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

/// How long a test waits for an answer it expects. It returns as soon as the answer comes, so the
/// bound only matters on a machine so busy that the whole test run starts at once on two cores
/// (about 70 suites in parallel): 5 s was missed there.
enum TestTimeouts {
    static let answer: Duration = .seconds(20)
}
