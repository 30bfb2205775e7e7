/// Why a seeding call refused to do what was asked.
public enum TinodeDoubleError: Error, Equatable, Sendable {
    /// The login breaks basic's rules (or the stored-length limit) under the double's options.
    case invalidLogin(String)
    case duplicateLogin(String)
    case passwordTooShort
    case unknownUser(String)
    case unknownTopic(String)
}
