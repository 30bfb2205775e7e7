import Foundation
import Synchronization
import Testing
import TinodeDouble

/// Replays a rest-auth scenario: the gRPC side through `FixtureReplayer`, while a scripted server
/// answers each REST call with the recorded answer and checks the call against the recorded one.
///
/// A call must be byte for byte what Tinode sent, except the client's port in `addr` and the uids:
/// a recorded uid is bound to the double's on first sight (the `link` of a new account) and
/// rewritten in later answers, and must be the user the gRPC side showed.
final class RESTAuthFixtureReplayer: Sendable {
    private struct State {
        var uids: [String: String] = [:]
        var differences: [String] = []
    }

    private let fixture: RESTAuthFixture
    private let state = Mutex(State())

    private init(fixture: RESTAuthFixture) {
        self.fixture = fixture
    }

    static func replay(_ fixture: RESTAuthFixture) async throws {
        let replayer = RESTAuthFixtureReplayer(fixture: fixture)
        try await ScriptedRESTAuthServer.run { server, url in
            for (index, exchange) in fixture.exchanges.enumerated() {
                server.script(exchange.path, .computed { request in replayer.answer(index, to: request) })
            }
            let bindings = try await FixtureReplayer.replay(fixture.grpc) { options in
                options.restAuth = TinodeDouble.RESTAuth(serverURL: url)
            }
            #expect(server.requests.map(\.path) == fixture.exchanges.map(\.path), "\(fixture.name): the calls in order")
            let (uids, differences) = replayer.state.withLock { ($0.uids, $0.differences) }
            #expect(differences.isEmpty, "\(fixture.name): \(differences)")
            for (recorded, actual) in uids {
                #expect(bindings.actualName(for: "usr" + recorded) == "usr" + actual, "\(fixture.name): uid \(recorded)")
            }
        }
    }

    /// Checks call `index` and answers it as recorded, with the double's uids.
    private func answer(_ index: Int, to request: ScriptedRESTAuthServer.Request) -> ScriptedRESTAuthServer.Answer {
        let exchange = fixture.exchanges[index]
        return state.withLock { state in
            let place = "\(fixture.name) call \(index + 1) \(exchange.path)"
            if request.contentType != "application/json" {
                state.differences.append("\(place): Content-Type \(request.contentType ?? "none")")
            }
            let uidPattern = #/"uid":"([A-Za-z0-9_-]{11})"/#
            var expected = exchange.requestBody
            if let recorded = expected.firstMatch(of: uidPattern)?.1, let actual = request.text.firstMatch(of: uidPattern)?.1,
                state.uids[String(recorded)] == nil, !state.uids.values.contains(String(actual))
            {
                state.uids[String(recorded)] = String(actual)
            }
            for (recorded, actual) in state.uids { expected = expected.replacingOccurrences(of: recorded, with: actual) }
            // The client's port differs from run to run; the address must still be loopback.
            let addressPattern = #/"addr":"127\.0\.0\.1:\d+"/#
            if let sent = request.text.firstMatch(of: addressPattern) {
                expected = expected.replacing(addressPattern, with: { _ in sent.0 })
            }
            if request.text != expected {
                state.differences.append("\(place): sent \(request.text), recorded \(expected)")
            }
            var body = exchange.responseBody
            for (recorded, actual) in state.uids { body = body.replacingOccurrences(of: recorded, with: actual) }
            return .raw(status: exchange.status, contentType: exchange.contentType, body: body)
        }
    }
}
