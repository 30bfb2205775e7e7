import Foundation

/// What a REST-auth call came to, as Tinode's `callEndpoint` sees it (tinode-protocol.md 1.2):
/// only an HTTP 2xx whose whole body Go's `json.Unmarshal` accepts into Tinode's `response` is an
/// answer; then a non-empty `err` makes it a store error.
enum RESTAuthAnswer: Sendable {
    /// Unreachable, timed out, a status outside 200-299, or a body Go refuses (empty, not JSON, a
    /// value of the wrong type anywhere): 500 "internal error" (fixtures rest-auth 23 to 25).
    case failed
    /// `{"err": ...}` (fixtures rest-auth 10 to 22).
    case rejected(String)
    case accepted(RESTAuthResponse)

    /// The answer to a 2xx body.
    init(body: Data) {
        guard let value = JSONValue.parse(body) else {
            self = .failed
            return
        }
        switch value {
        case .null:
            self = .accepted(RESTAuthResponse())
        case .object(let members):
            guard let (error, response) = RESTAuthResponse.decode(members) else {
                self = .failed
                return
            }
            self = error.isEmpty ? .accepted(response) : .rejected(error)
        default:
            self = .failed
        }
    }
}

/// The parts of Tinode's `response` that a login reads; the others are still checked for their
/// type, as Go decodes them too.
struct RESTAuthResponse: Sendable {
    var record: RESTAuthRecord?
    /// `byteval`: a challenge when not empty (1.7 step 3).
    var challenge = Data()
    var newAccount: NewAccount?

    /// `newacc` (1.8): what a new account starts with.
    struct NewAccount: Sendable {
        /// Default access; Tinode ignores a text it cannot parse and leaves the mode at N.
        var auth = AccessMode.none
        var anon = AccessMode.none
        var publicValue: JSONValue?
        /// Stored on the user's `me` subscription.
        var privateValue: JSONValue?
    }

    /// The `err` text and the rest; nil where `json.Unmarshal` returns an error.
    static func decode(_ members: [String: JSONValue]) -> (String, RESTAuthResponse)? {
        var response = RESTAuthResponse()
        var error = ""
        if let value = members.goField("err") {
            switch value {
            case .string(let text): error = text
            case .null: break
            default: return nil
            }
        }
        if let value = members.goField("rec") {
            switch value {
            case .null: break
            case .object(let fields):
                guard let record = RESTAuthRecord(goObject: fields) else { return nil }
                response.record = record
            default: return nil
            }
        }
        if let value = members.goField("byteval") {
            switch value {
            case .null: break
            case .string(let text):
                // Standard base64 with padding; Go skips line breaks in it.
                let cleaned = text.filter { $0 != "\r" && $0 != "\n" }
                guard let bytes = Data(base64Encoded: cleaned) else { return nil }
                response.challenge = bytes
            default: return nil
            }
        }
        if let value = members.goField("ts") {
            guard value == .null || value.stringValue.map(isRFC3339) == true else { return nil }
        }
        if let value = members.goField("boolval") {
            switch value {
            case .null, .bool: break
            default: return nil
            }
        }
        if let value = members.goField("strarr") {
            guard RESTAuthRecord.strings(value) != nil else { return nil }
        }
        if let value = members.goField("newacc") {
            switch value {
            case .null: break
            case .object(let fields):
                guard let account = newAccount(fields) else { return nil }
                response.newAccount = account
            default: return nil
            }
        }
        return (error, response)
    }

    private static func newAccount(_ members: [String: JSONValue]) -> NewAccount? {
        var account = NewAccount()
        for (name, keyPath) in [("auth", \NewAccount.auth), ("anon", \NewAccount.anon)] {
            guard let value = members.goField(name) else { continue }
            switch value {
            case .null: continue
            case .string(let text):
                if case .mode(let mode) = GoAccessText(text) { account[keyPath: keyPath] = mode }
            default: return nil
            }
        }
        account.publicValue = members.goField("public").flatMap { $0 == .null ? nil : $0 }
        account.privateValue = members.goField("private").flatMap { $0 == .null ? nil : $0 }
        return account
    }

    /// Go's `time.Time` JSON form: RFC 3339 with an optional fraction and a zone.
    private static func isRFC3339(_ text: String) -> Bool {
        guard let match = text.wholeMatch(of: #/(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})/#),
            let month = Int(match.2), let day = Int(match.3), let hour = Int(match.4), let minute = Int(match.5),
            let second = Int(match.6)
        else { return false }
        return (1...12).contains(month) && (1...31).contains(day) && hour < 24 && minute < 60 && second < 60
    }
}
