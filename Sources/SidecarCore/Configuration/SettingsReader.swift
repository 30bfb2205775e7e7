import Configuration
import Foundation

/// The settings one program reads. A setting that the program does not read (`Setting.readBy`) is
/// unset for it: its default applies and no value of it, however bad, can stop the program.
public struct SettingsReader: Sendable {
    public let program: Programs
    private let reader: ConfigReader

    public init(_ reader: ConfigReader, program: Programs) {
        self.reader = reader
        self.program = program
    }

    /// Whether this program reads `setting`.
    public func reads(_ setting: Setting) -> Bool { !setting.readBy.isDisjoint(with: program) }

    /// The trimmed value of `setting`, or nil when unset, empty, or not read by this program.
    public func string(_ setting: Setting) -> String? {
        reads(setting) ? reader.string(setting) : nil
    }

    /// A secret of at least `SecretBytes.minimumCount` bytes. Shorter or missing: refused in
    /// production; in development a short one is used with a warning, and a missing `required` one
    /// is generated for this process (with a warning).
    func secret(_ setting: Setting, environment: DeploymentEnvironment, required: Bool, warnings: inout [String]) throws
        -> SecretBytes?
    {
        if let text = string(setting) {
            let secret = SecretBytes(text)
            if secret.bytes.count >= SecretBytes.minimumCount { return secret }
            if environment == .production {
                throw ConfigurationError(
                    setting: setting.name, reason: "is \(secret.bytes.count) bytes; production needs at least \(SecretBytes.minimumCount)")
            }
            warnings.append("\(setting.name) is shorter than \(SecretBytes.minimumCount) bytes; production would refuse it")
            return secret
        }
        guard required else { return nil }
        if environment == .production {
            throw ConfigurationError(
                setting: setting.name, reason: "is required in production (at least \(SecretBytes.minimumCount) random bytes)")
        }
        warnings.append(
            "\(setting.name) is unset: generated a random one for this process; tokens will not survive a restart or verify in another process"
        )
        return SecretBytes.random()
    }

    /// `true`/`1`/`yes`/`on` or `false`/`0`/`no`/`off`; the default when unset.
    func bool(_ setting: Setting) throws -> Bool {
        let text = (string(setting) ?? setting.defaultValue).lowercased()
        switch text {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default: throw ConfigurationError(setting: setting.name, reason: "must be true or false, not `\(text)`")
        }
    }

    /// A whole number within `range`; the default when unset.
    func int(_ setting: Setting, in range: ClosedRange<Int>) throws -> Int {
        let text = string(setting) ?? setting.defaultValue
        guard let value = Int(text), range.contains(value) else {
            throw ConfigurationError(
                setting: setting.name, reason: "must be a whole number in \(range.lowerBound)...\(range.upperBound), not `\(text)`")
        }
        return value
    }

    /// `host:port` (IPv6 in brackets); the default when unset.
    func address(_ setting: Setting) throws -> NetworkAddress {
        let text = string(setting) ?? setting.defaultValue
        guard let address = NetworkAddress(parsing: text) else {
            throw ConfigurationError(setting: setting.name, reason: "must be host:port (IPv6 in brackets), not `\(text)`")
        }
        return address
    }

    /// `name -> value` of every setting this program reads, in the registry's order, for the
    /// start-up log: made from the registry, so that no setting can be left out. Secrets show as
    /// `<set, redacted>`; URLs (in any setting) lose their password and query; an unset setting
    /// shows its default, or `<unset>`.
    public func report() -> [(name: String, value: String)] {
        Settings.all.filter(reads).map { setting in (setting.name, Self.display(setting, string(setting))) }
    }

    static func display(_ setting: Setting, _ value: String?) -> String {
        guard let value else { return setting.defaultValue.isEmpty ? "<unset>" : setting.defaultValue }
        if setting.isSecret {
            // A secret shows only when all of it is one URL (`VALKEY_URL`, `MONGO_URL`), and then
            // without its password and query; anything else (a JSON key set that happens to hold
            // a URL, say) is redacted whole.
            return isOneURL(value) ? maskedURLs(value) : "<set, redacted>"
        }
        return value.contains("://") ? maskedURLs(value) : value
    }

    /// `scheme://` followed by no white space, quote or brace.
    static func isOneURL(_ value: String) -> Bool {
        value.range(of: #"^[A-Za-z][A-Za-z0-9+.\-]*://[^\s"'{}\[\]]*$"#, options: .regularExpression) != nil
    }

    /// Each comma-separated URL without the password of its user information (`user:***@`) and
    /// with its query replaced by `***` (a query may carry a token).
    static func maskedURLs(_ text: String) -> String {
        text.split(separator: ",", omittingEmptySubsequences: false).map { item -> String in
            var url = ValkeySettings.maskedURL(String(item.trimmingCharacters(in: .whitespaces)))
            if let question = url.firstIndex(of: "?") { url = url[..<question] + "?***" }
            return url
        }.joined(separator: ",")
    }
}
