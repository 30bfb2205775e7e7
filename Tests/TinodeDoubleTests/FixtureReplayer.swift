import Foundation
import GRPCCore
import TinodeDouble
import TinodeProto

/// Plays one recorded flow against a fresh double over real gRPC: one `MessageLoop` call per
/// `stream` label, client messages sent in file order (rewritten through the bindings), and each
/// recorded server message or end awaited on its own stream and compared.
///
/// The double runs on a hand-set clock that shows, when each client message goes out, the recorded
/// moment of that message (shifted by whole seconds), so times keep their recorded gaps and second
/// boundaries (fixture l). Server settings a flow names in its note are set up (fixture i).
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
    private let clock: RecordedClock
    private var streams: [String: TestStream] = [:]
    private var ended: Set<String> = []
    /// Confirmation mails the transcript's comments accounted for.
    private var mailsSeen = 0

    private init(fixture: Fixture, double: TinodeDouble, connection: DoubleConnection, bindings: FixtureBindings, clock: RecordedClock) {
        self.fixture = fixture
        self.double = double
        self.connection = connection
        self.bindings = bindings
        self.clock = clock
    }

    /// `configure` adds settings the flow's note does not name (a REST-auth server's address).
    /// Returns the bindings, for checks of what the double did outside the gRPC side.
    @discardableResult
    static func replay(_ fixture: Fixture, configure: (inout TinodeDouble.Options) -> Void = { _ in }) async throws -> FixtureBindings {
        let clock = try RecordedClock(fixture)
        var options = serverOptions(for: fixture)
        configure(&options)
        options.time = .manual(clock.time)
        let bindings = FixtureBindings(
            startMillis: clock.startMillis, tokenLifetimeMillis: options.tokenLifetime.millisecondCount, now: { clock.time.millis })
        let double = try await TinodeDouble.start(options: options)
        do {
            try await DoubleConnection.with(port: double.port) { connection in
                try await FixtureReplayer(fixture: fixture, double: double, connection: connection, bindings: bindings, clock: clock).run()
            }
        } catch {
            await double.stop()
            throw error
        }
        await double.stop()
        return bindings
    }

    /// The stock settings of the recording server, plus what the flow's note says it ran with.
    static func serverOptions(for fixture: Fixture) -> TinodeDouble.Options {
        var options = TinodeDouble.Options()
        if fixture.note.contains(#"acc_validation.email.required ["auth"]"#) {
            let debugResponse = fixture.note.firstMatch(of: #/debug_response "(\d+)"/#).map { String($0.1) }
            options.emailValidation = TinodeDouble.EmailValidation(debugResponse: debugResponse)
        }
        return options
    }

    private func run() async throws {
        var index = 0
        while index < fixture.lines.count {
            let group = Self.unorderedPresence(in: fixture.lines, at: index)
            if group.count > 1 {
                try await playUnordered(group)
            } else {
                try await play(fixture.lines[index])
            }
            index += group.count
        }
        let open = streams.keys.filter { !ended.contains($0) }.sorted()
        guard open.isEmpty else { throw ReplayError("\(fixture.name): streams \(open) never ended") }
        let mails = double.confirmationMails()
        guard mails.count == mailsSeen else {
            throw ReplayError("\(fixture.name): the double sent mails the transcript does not show: \(mails.dropFirst(mailsSeen))")
        }
    }

    /// The lines from `index` on that may arrive in any order: a run of `pres` on `me` in one stream,
    /// recorded within one millisecond, with the same `what` and different sources. Tinode's topics
    /// send them on their own (fixture l: one `ON` per online topic after `{sub me}`), so their order
    /// says nothing. Otherwise just the line at `index`.
    static func unorderedPresence(in lines: [Fixture.Line], at index: Int) -> ArraySlice<Fixture.Line> {
        func presence(_ line: Fixture.Line) -> Pbx_ServerPres? {
            guard line.direction == "in", line.kind == "pres", let payload = line.payload,
                let message = try? Pbx_ServerMsg(serializedBytes: payload), case .pres(let pres) = message.message, pres.topic == "me"
            else { return nil }
            return pres
        }
        let first = lines[index]
        guard let head = presence(first), let start = first.millis else { return lines[index...index] }
        var sources: Set<String> = [head.src]
        var end = index + 1
        while end < lines.count, let next = presence(lines[end]), lines[end].stream == first.stream, next.what == head.what,
            let millis = lines[end].millis, millis - start < 1, sources.insert(next.src).inserted
        {
            end += 1
        }
        return lines[index..<end]
    }

    /// Reads as many messages as the lines hold and pairs each with a recorded line it matches.
    private func playUnordered(_ lines: ArraySlice<Fixture.Line>) async throws {
        let first = lines.first!
        let place = "\(fixture.name):\(first.number)-\(lines.last!.number) [\(first.stream ?? "-")] in pres (any order)"
        var waiting = try lines.map { try MessageShape.of(try Pbx_ServerMsg(serializedBytes: try payload(of: $0, place))) }
        let stream = try stream(of: first, place)
        while !waiting.isEmpty {
            let event = await stream.next(within: Self.replyTimeout)
            guard case .message(let actual) = event else {
                throw ReplayError("\(place): expected one of \(waiting), got \(Self.describe(event))")
            }
            let actualShape = try MessageShape.of(actual)
            guard let found = waiting.firstIndex(where: { bindings.matchesWithoutBinding(recorded: $0, actual: actualShape) }) else {
                throw ReplayError("\(place): \(actualShape) sent, but the recording has only \(waiting) left")
            }
            waiting.remove(at: found)
        }
    }

    private func play(_ line: Fixture.Line) async throws {
        let place = "\(fixture.name):\(line.number) [\(line.stream ?? "-")] \(line.direction) \(line.kind)"
        if line.direction == "out" { clock.advance(to: line) }
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

    /// Comments stand for what the recorder did or saw out of band; each kind must be understood.
    private func follow(comment: String, place: String) async throws {
        if let match = comment.firstMatch(of: #/^SMTP sink received a mail .*RCPT TO \['([^']+)'\], Subject '([^']+)'/#) {
            try checkMail(to: String(match.1), subject: String(match.2), place: place)
        } else if let match = comment.firstMatch(of: #/^ims used below = (\d+)/#) {
            // The client's if_modified_since is rewritten through the time bindings; it must be bound.
            guard let recorded = Int64(match.1), bindings.actualTime(for: recorded) != nil else {
                throw ReplayError("\(place): no reply showed the time \(match.1)")
            }
        } else if comment.hasPrefix("Tinode v0.25.3 converts GetOpts.if_modified_since") {
            // Explains the answer above; the double models it (WorldState+TopicList.swift).
        } else if let match = comment.firstMatch(of: #/-make_root (usr[A-Za-z0-9_-]{11})/#) {
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

    /// The next mail the double kept must be the one the SMTP sink got: same address and subject, and
    /// a six-digit code that is not the debug response.
    private func checkMail(to address: String, subject: String, place: String) throws {
        let mails = double.confirmationMails()
        guard mailsSeen < mails.count else { throw ReplayError("\(place): no mail to \(address) was sent") }
        let mail = mails[mailsSeen]
        mailsSeen += 1
        guard mail.address == address, mail.subject == subject else {
            throw ReplayError("\(place): a mail to \(address) with subject '\(subject)' recorded, \(mail) sent")
        }
        let debugResponse = Self.serverOptions(for: fixture).emailValidation?.debugResponse
        guard mail.code.wholeMatch(of: #/[0-9]{6}/#) != nil, mail.code != debugResponse else {
            throw ReplayError("\(place): the mailed code \(mail.code) is not a random six-digit code")
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

/// The double's clock during a replay: at each client message it shows the recorded server time of
/// that moment, moved by whole seconds to today. The recorded server time is estimated from the
/// flow's own times: a time in a message cannot be later than the server's clock when the message
/// arrived, so the largest `time - t_ms` is the closest estimate of the flow's start.
final class RecordedClock: Sendable {
    let time: TinodeDouble.ManualTime
    let startMillis: Int64

    init(_ fixture: Fixture) throws {
        let now = WallClockForTests.nowMillis()
        var recordedStart: Double?
        for line in fixture.lines where line.direction == "in" {
            guard let payload = line.payload, let arrival = line.millis else { continue }
            for time in Self.times(in: try MessageShape.of(try Pbx_ServerMsg(serializedBytes: payload))) {
                recordedStart = max(recordedStart ?? -.infinity, time - arrival)
            }
        }
        // Keep the recorded position within the second; start at most a second before now.
        let phase = recordedStart.map { Int64($0.rounded(.up)) % 1000 } ?? now % 1000
        startMillis = now - now % 1000 + phase - (phase > now % 1000 ? 1000 : 0)
        time = TinodeDouble.ManualTime(millis: startMillis)
    }

    /// At a client line: the recorded moment it was sent.
    func advance(to line: Fixture.Line) {
        guard let millis = line.millis else { return }
        time.set(millis: max(time.millis, startMillis + Int64(millis.rounded(.up))))
    }

    private static func times(in shape: Shape, key: String? = nil) -> [Double] {
        switch shape {
        case .object(let members): members.flatMap { times(in: $0.value, key: $0.key) }
        case .array(let elements): elements.flatMap { times(in: $0, key: key) }
        case .number(let number) where key.map(MessageShape.int64Keys.contains) == true: [number]
        default: []
        }
    }
}
