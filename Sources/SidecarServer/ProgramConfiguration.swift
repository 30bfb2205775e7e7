import Hummingbird
import SidecarCore

/// Loads the configuration a program starts with, from the process environment and the files it
/// names, and turns a bad setting into one clear line on standard error.
public enum ProgramConfiguration {
    /// The settings `program` reads (the other program's are not looked at).
    public static func load(program: Programs, environment: [String: String]? = nil) async throws -> SidecarConfiguration {
        let reader =
            if let environment {
                try await ConfigurationSources.makeReader(environment: environment)
            } else {
                try await ConfigurationSources.makeReader()
            }
        return try SidecarConfiguration(reader: reader, program: program)
    }
}
