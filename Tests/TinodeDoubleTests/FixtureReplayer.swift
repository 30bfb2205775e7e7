import Foundation
import GRPCCore
import TinodeDouble
import TinodeProto

/// Plays one recorded flow against a fresh double over real gRPC: one `MessageLoop` call per
/// `stream` label, client messages sent in file order (rewritten through the bindings), and each
/// recorded server message or end awaited on its own stream and compared.
final class FixtureReplayer {
    /// Only a failing replay waits this long. It is generous because the whole suite runs in parallel
    /// on two cores: a stream's first reply (connection set-up included) once took over 5 s there.
    static let replyTimeout: Duration = .seconds(20)
    /// The recordings waited 2 to 70 s to show a stream stays silent; this is enough to see it here.
    static let silence: Duration = .milliseconds(300)

    private let fixture: Fixture
    private let double: TinodeDouble
    private let connection: DoubleConnection
    private let bindings: FixtureBindings
    private var streams: [String: TestStream] = [:]
    private var ended: Set<String> = []

    private init(fixture: Fixture, double: TinodeDouble, connection: DoubleConnection, bindings: FixtureBindings) {
        self.fixture = fixture
        self.double = double
        self.connection = connection
        self.bindings = bindings
    }

    static func replay(_ fixture: Fixture) async throws {
        let options = TinodeDouble.Options()
        let bindings = FixtureBindings(
            startMillis: WallClockForTests.nowMillis(), tokenLifetimeMillis: options.tokenLifetime.millisecondCount)
        let double = try await TinodeDouble.start(options: options)
        do {
            try await DoubleConnection.with(port: double.port) { connection in
                try await FixtureReplayer(fixture: fixture, double: double, connection: connection, bindings: bindings).run()
            }
        } catch {
            await double.stop()
            throw error
        }
        await double.stop()
    }

    private func run() async throws {
        for line in fixture.lines {
            try await play(line)
        }
        let open = streams.keys.filter { !ended.contains($0) }.sorted()
        guard open.isEmpty else { throw ReplayError("\(fixture.name): streams \(open) never ended") }
    }

    private func play(_ line: Fixture.Line) async throws {
        let place = "\(fixture.name):\(line.number) [\(line.stream ?? "-")] \(line.direction) \(line.kind)"
        switch (line.direction, line.kind) {
        case ("note", "comment"):
            try await follow(comment: line.comment ?? "", place: place)
        case ("out", "half_close"):
            try stream(of: line, place).halfClose()
        case ("out", _):
            let recorded = try Pbx_ClientMsg(serializedBytes: try payload(of: line, place))
            guard recorded.kindName == line.kind else { throw ReplayError("\(place): the payload is a \(recorded.kindName)") }
            do {
                try stream(of: line, place).send(try bindings.rewrite(recorded))
            } catch let error as ReplayError {
                throw ReplayError("\(place): \(error)")
            }
        case ("in", "end"):
            let event = try await stream(of: line, place).next(within: Self.replyTimeout)
            guard case .end(let code) = event else {
                throw ReplayError("\(place): expected the call to end with \(line.status ?? "?"), got \(Self.describe(event))")
            }
            let sent = code.map { "\($0)" } ?? "OK"
            guard Self.statusName(sent) == Self.statusName(line.status ?? "") else {
                throw ReplayError("\(place): the call ended with \(sent), recorded \(line.status ?? "?")")
            }
            ended.insert(line.stream!)
        case ("in", _):
            let recorded = try Pbx_ServerMsg(serializedBytes: try payload(of: line, place))
            let event = try await stream(of: line, place).next(within: Self.replyTimeout)
            guard case .message(let actual) = event else {
                throw ReplayError("\(place): expected \(try MessageShape.of(recorded)), got \(Self.describe(event))")
            }
            let expectedShape = try MessageShape.of(recorded)
            let actualShape = try MessageShape.of(actual)
            let differences = bindings.match(recorded: expectedShape, actual: actualShape)
            guard differences.isEmpty else {
                throw ReplayError(
                    "\(place) differs:\n  - " + differences.joined(separator: "\n  - ")
                        + "\n  recorded: \(expectedShape)\n  sent:     \(actualShape)"
                )
            }
        default:
            throw ReplayError("\(place): a line the replayer does not know")
        }
    }

    /// Comments stand for what the recorder did out of band; each kind must be understood.
    private func follow(comment: String, place: String) async throws {
        if let match = comment.firstMatch(of: #/-make_root (usr[A-Za-z0-9_-]{11})/#) {
            try double.makeRoot(user: try bindings.name(String(match.1)))
        } else if let match = comment.firstMatch(of: #/^stream (\S+): client stayed silent/#) {
            let label = String(match.1)
            guard let stream = streams[label] else { throw ReplayError("\(place): no stream \(label)") }
            let event = await stream.next(within: Self.silence)
            guard event == nil else {
                throw ReplayError("\(place): stream \(label) should be half-dead (silent and open), got \(Self.describe(event))")
            }
        } else {
            throw ReplayError("\(place): a comment the replayer does not understand: \(comment)")
        }
    }

    private func stream(of line: Fixture.Line, _ place: String) throws -> TestStream {
        guard let label = line.stream else { throw ReplayError("\(place): no stream label") }
        if let stream = streams[label] { return stream }
        let stream = connection.openStream()
        streams[label] = stream
        return stream
    }

    private func payload(of line: Fixture.Line, _ place: String) throws -> Data {
        guard let payload = line.payload else { throw ReplayError("\(place): no pb_b64") }
        return payload
    }

    private static func describe(_ event: TestStream.Event?) -> String {
        guard let event else { return "nothing within the timeout" }
        return "\(event)"
    }

    /// "RESOURCE_EXHAUSTED" and "resourceExhausted" name the same status.
    private static func statusName(_ text: String) -> String {
        text.replacingOccurrences(of: "_", with: "").uppercased()
    }
}

extension Duration {
    var millisecondCount: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
