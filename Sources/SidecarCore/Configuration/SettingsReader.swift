import Configuration

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

    /// `name -> value` of every setting this program reads, in the registry's order, for the
    /// start-up log: made from the registry, so that no setting can be left out. Secrets show as
    /// `<set, redacted>`; URLs (in any setting) lose their password and query; an unset setting
    /// shows its default, or `<unset>`.
    public func report() -> [(name: String, value: String)] {
        Settings.all.filter(reads).map { setting in (setting.name, Self.display(setting, string(setting))) }
    }

    static func display(_ setting: Setting, _ value: String?) -> String {
        guard let value else { return setting.defaultValue.isEmpty ? "<unset>" : setting.defaultValue }
        if value.contains("://") { return maskedURLs(value) }
        return setting.isSecret ? "<set, redacted>" : value
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
