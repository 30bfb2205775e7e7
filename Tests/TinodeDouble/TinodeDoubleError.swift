/// Why a seeding call refused to do what was asked, or the double would not start.
public enum TinodeDoubleError: Error, Equatable, Sendable {
    /// The login breaks basic's rules (or the stored-length limit) under the double's options.
    case invalidLogin(String)
    case duplicateLogin(String)
    case passwordTooShort
    case unknownUser(String)
    case unknownTopic(String)
    /// `Options.restAuth.serverURL` is not an absolute URL, which stops Tinode from starting.
    case invalidRESTAuthServerURL(String)
}
