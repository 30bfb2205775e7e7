import Foundation
import TinodeProto

struct ReplayError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}

/// Matches recorded server messages with the double's, binding what changes from run to run.
///
/// A recorded user id or group name, token, time, build or address is bound to the double's value on
/// first sight and must map to that same value everywhere after (a recorded name must keep meaning
/// one name, and two recorded names must not collapse into one; times and tokens may, see below). Everything else must be equal:
/// codes, texts, ids, counts, seq, what, access modes, content, and which fields are present.
/// Client messages are rewritten through the same bindings before they are sent.
final class FixtureBindings {
    /// Everything bound so far; a trial match (`matchesWithoutBinding`) puts it back when it fails.
    private struct Tables {
        var names: [String: String] = [:]
        var namesTaken: [String: String] = [:]
        var tokens: [String: String] = [:]
        var times: [Int64: Int64] = [:]
        var opaque: [String: String] = [:]
    }

    private var tables = Tables()
    private let startMillis: Int64
    private let tokenLifetimeMillis: Int64
    /// The double's "now", for telling a plausible time from a wrong one.
    private let now: () -> Int64

    /// Times: int64 fields of the proto, and RFC 3339 strings inside ctrl params.
    static let timeKeys = MessageShape.int64Keys.union(["created", "updated", "expires"])
    /// Values that describe the server rather than the conversation.
    static let opaqueKeys: Set<String> = ["build", "servingAt"]

    init(startMillis: Int64, tokenLifetimeMillis: Int64, now: @escaping () -> Int64 = WallClockForTests.nowMillis) {
        self.startMillis = startMillis
        self.tokenLifetimeMillis = tokenLifetimeMillis
        self.now = now
    }

    static func isTinodeID(_ text: String) -> Bool {
        text.wholeMatch(of: #/(usr|grp|chn)[A-Za-z0-9_-]{11}/#) != nil
    }

    /// The double's name for a recorded one, if bound.
    func actualName(for recorded: String) -> String? {
        tables.names[recorded]
    }

    /// The double's time for a recorded one, if bound.
    func actualTime(for recorded: Int64) -> Int64? {
        tables.times[recorded]
    }

    /// Whether the messages match; when they do not, nothing is bound by trying.
    func matchesWithoutBinding(recorded: Shape, actual: Shape) -> Bool {
        let saved = tables
        guard match(recorded: recorded, actual: actual).isEmpty else {
            tables = saved
            return false
        }
        return true
    }

    /// Differences between a recorded and an actual message; empty when they match.
    func match(recorded: Shape, actual: Shape, path: String = "", key: String? = nil) -> [String] {
        let here = path.isEmpty ? "(message)" : path
        switch (recorded, actual) {
        case (.object(let expected), .object(let got)):
            guard Set(expected.keys) == Set(got.keys) else {
                return ["\(here): fields \(expected.keys.sorted()) recorded, \(got.keys.sorted()) sent"]
            }
            return expected.keys.sorted().flatMap { name in
                match(recorded: expected[name]!, actual: got[name]!, path: path.isEmpty ? name : path + "." + name, key: name)
            }
        case (.array(let expected), .array(let got)):
            guard expected.count == got.count else { return ["\(here): \(expected.count) elements recorded, \(got.count) sent"] }
            return zip(expected, got).enumerated().flatMap { index, pair in
                match(recorded: pair.0, actual: pair.1, path: "\(path)[\(index)]", key: key)
            }
        default:
            return matchLeaf(recorded: recorded, actual: actual, at: here, key: key)
        }
    }

    private func matchLeaf(recorded: Shape, actual: Shape, at path: String, key: String?) -> [String] {
        if let key, Self.timeKeys.contains(key) { return matchTime(recorded: recorded, actual: actual, at: path, key: key) }
        if case .string(let expected) = recorded, case .string(let got) = actual {
            if key == "token" { return bindToken(expected, to: got, at: path) }
            if let key, Self.opaqueKeys.contains(key) {
                if let bound = tables.opaque[key], bound != got { return ["\(path): \(key) changed from \"\(bound)\" to \"\(got)\""] }
                tables.opaque[key] = got
                return []
            }
            if Self.isTinodeID(expected) {
                guard expected.prefix(3) == got.prefix(3), Self.isTinodeID(got) else {
                    return ["\(path): \"\(expected)\" recorded, \"\(got)\" sent (not the same kind of id)"]
                }
                return bindName(expected, to: got, at: path)
            }
        }
        return recorded == actual ? [] : ["\(path): \(recorded) recorded, \(actual) sent"]
    }

    private func bindName(_ recorded: String, to actual: String, at path: String) -> [String] {
        if let bound = tables.names[recorded] {
            return bound == actual ? [] : ["\(path): recorded id \(recorded) is \(bound) in this run, but \(actual) was sent"]
        }
        if let other = tables.namesTaken[actual] {
            return ["\(path): \(actual) was sent for recorded id \(recorded), but it already stands for \(other)"]
        }
        tables.names[recorded] = actual
        tables.namesTaken[actual] = recorded
        return []
    }

    /// Tokens bind one way only: Tinode's tokens for the same user, level and second are identical,
    /// and the double answers within the same second where the recorder waited longer.
    private func bindToken(_ recorded: String, to actual: String, at path: String) -> [String] {
        if let bound = tables.tokens[recorded], bound != actual {
            return ["\(path): recorded token \(recorded) is \(bound) in this run, but \(actual) was sent"]
        }
        guard let raw = Data(base64Encoded: actual), raw.count == 50 else { return ["\(path): \(actual) is not a 50-byte token"] }
        tables.tokens[recorded] = actual
        return []
    }

    /// Times bind one way only (different recorded times may fall in the same millisecond here), and
    /// must be plausible: now-ish, or one token lifetime ahead for `expires`.
    private func matchTime(recorded: Shape, actual: Shape, at path: String, key: String) -> [String] {
        guard let expected = Self.millis(recorded) else { return ["\(path): recorded \(recorded) is not a time"] }
        guard let got = Self.millis(actual) else { return ["\(path): \(actual) sent, not a time in Tinode's format"] }
        let now = now()
        let offset = key == "expires" ? tokenLifetimeMillis : 0
        guard (startMillis - 2_000 + offset)...(now + 2_000 + offset) ~= got else {
            return ["\(path): time \(got) is outside this run (\(startMillis)...\(now), plus \(offset) ms)"]
        }
        if let bound = tables.times[expected], bound != got {
            return ["\(path): recorded time \(expected) is \(bound) elsewhere in this run, but \(got) was sent"]
        }
        tables.times[expected] = got
        return []
    }

    /// Milliseconds from an int64 field or from Go's RFC 3339 text (UTC, fraction without trailing zeros).
    static func millis(_ shape: Shape) -> Int64? {
        switch shape {
        case .number(let number): return Int64(exactly: number)
        case .string(let text): return rfc3339Millis(text)
        default: return nil
        }
    }

    static func rfc3339Millis(_ text: String) -> Int64? {
        guard let match = text.wholeMatch(of: #/(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?Z/#) else { return nil }
        let fraction = match.7.map(String.init) ?? ""
        if fraction.hasSuffix("0") { return nil }
        var year = Int64(match.1)!
        let month = Int64(match.2)!, day = Int64(match.3)!
        year -= month <= 2 ? 1 : 0
        let era = (year >= 0 ? year : year - 399) / 400
        let yearOfEra = year - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        let seconds = days * 86_400 + Int64(match.4)! * 3600 + Int64(match.5)! * 60 + Int64(match.6)!
        let millis = fraction.isEmpty ? 0 : Int64(fraction.padding(toLength: 3, withPad: "0", startingAt: 0))!
        return seconds * 1000 + millis
    }

    /// Puts the double's ids and tokens where the recorded client used the recorded ones.
    func rewrite(_ recorded: Pbx_ClientMsg) throws -> Pbx_ClientMsg {
        var message = recorded
        switch message.message {
        case .sub(var sub):
            sub.topic = try name(sub.topic)
            try rewriteTimes(in: &sub.getQuery)
            message.sub = sub
        case .leave(var leave):
            leave.topic = try name(leave.topic)
            message.leave = leave
        case .pub(var pub):
            pub.topic = try name(pub.topic)
            message.pub = pub
        case .get(var get):
            get.topic = try name(get.topic)
            try rewriteTimes(in: &get.query)
            message.get = get
        case .set(var set):
            set.topic = try name(set.topic)
            if set.query.hasSub { set.query.sub.userID = try name(set.query.sub.userID) }
            message.set = set
        case .del(var del):
            del.topic = try name(del.topic)
            del.userID = try name(del.userID)
            message.del = del
        case .note(var note):
            note.topic = try name(note.topic)
            message.note = note
        case .acc(var acc):
            acc.userID = try name(acc.userID)
            message.acc = acc
        case .login(var login):
            if login.scheme == "token" { login.secret = try token(login.secret) }
            message.login = login
        case .hi, nil:
            break
        }
        if message.hasExtra { message.extra.onBehalfOf = try name(message.extra.onBehalfOf) }
        return message
    }

    /// `if_modified_since` names a time the server sent earlier (fixture l): the double's for it.
    private func rewriteTimes(in query: inout Pbx_GetQuery) throws {
        for keyPath in [\Pbx_GetQuery.desc.ifModifiedSince, \Pbx_GetQuery.sub.ifModifiedSince] where query[keyPath: keyPath] != 0 {
            let recorded = query[keyPath: keyPath]
            guard let actual = tables.times[recorded] else {
                throw ReplayError("the client uses the time \(recorded), which no earlier reply introduced")
            }
            query[keyPath: keyPath] = actual
        }
    }

    func name(_ recorded: String) throws -> String {
        guard Self.isTinodeID(recorded) else { return recorded }
        guard let actual = tables.names[recorded] else {
            throw ReplayError("the client uses \(recorded), which no earlier reply introduced")
        }
        return actual
    }

    /// A token secret as the recorded client sent it: the raw token, its base64 text, a prefix of it
    /// (truncated), or the raw token with a few bytes changed (tampered), each made from the double's token.
    private func token(_ secret: Data) throws -> Data {
        let pairs = tables.tokens.map { (recordedText: $0.key, actualText: $0.value) }
        for pair in pairs {
            guard let recordedRaw = Data(base64Encoded: pair.recordedText), let actualRaw = Data(base64Encoded: pair.actualText) else {
                continue
            }
            if secret == recordedRaw { return actualRaw }
            if secret == Data(pair.recordedText.utf8) { return Data(pair.actualText.utf8) }
            if secret.count < recordedRaw.count, recordedRaw.prefix(secret.count) == secret { return Data(actualRaw.prefix(secret.count)) }
        }
        let tampered = pairs.compactMap { pair -> (distance: Int, result: Data)? in
            guard let recordedRaw = Data(base64Encoded: pair.recordedText), let actualRaw = Data(base64Encoded: pair.actualText),
                recordedRaw.count == secret.count, actualRaw.count == secret.count
            else { return nil }
            var result = [UInt8](actualRaw)
            var distance = 0
            for (index, (sent, original)) in zip(secret, recordedRaw).enumerated() where sent != original {
                distance += 1
                result[index] ^= sent ^ original
            }
            return (distance, Data(result))
        }
        guard let closest = tampered.min(by: { $0.distance < $1.distance }), closest.distance <= 2 else {
            throw ReplayError("the client sends a token secret that no earlier reply explains")
        }
        return closest.result
    }
}

enum WallClockForTests {
    static func nowMillis() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded())
    }
}
