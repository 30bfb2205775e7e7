import Configuration
import Foundation
import SystemPackage

/// Builds the one configuration reader both programs use.
///
/// Every setting has one name, written like an environment variable (`ACCESS_SECRET`). It is looked
/// up, in this order of precedence:
/// 1. the environment variable of that name;
/// 2. the optional JSON config file named by `SIDECAR_CONFIG_FILE`, as a top-level key of that name
///    (`{"ACCESS_SECRET": "..."}`);
/// 3. a file of that name in the secrets directory `SIDECAR_SECRETS_DIR` (default `/run/secrets`,
///    where Docker puts secrets), whose whole content (trimmed) is the value.
public enum ConfigurationSources {
    /// Names the optional JSON config file.
    public static let configFileVariable = "SIDECAR_CONFIG_FILE"
    /// Names the secrets directory.
    public static let secretsDirectoryVariable = "SIDECAR_SECRETS_DIR"
    /// Where Docker mounts secrets.
    public static let defaultSecretsDirectory = "/run/secrets"

    /// Reads `environment` (the process environment by default) and the files it names.
    /// - Throws: `ConfigurationError` when the named config file is missing or not JSON.
    public static func makeReader(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws -> ConfigReader {
        var providers: [any ConfigProvider] = [
            EnvironmentVariablesProvider(
                environmentVariables: environment,
                secretsSpecifier: .dynamic { name, _ in SettingName.looksSecret(name) }
            )
        ]
        if let path = environment[configFileVariable], !path.isEmpty {
            do {
                let file = try await FileProvider<JSONSnapshot>(filePath: FilePath(path))
                providers.append(KeyMappingProvider(upstream: file, keyMapper: SettingName.flatKey))
            } catch {
                throw ConfigurationError(
                    setting: configFileVariable,
                    reason: "cannot read the JSON config file at \(path): \(error)"
                )
            }
        }
        let secretsPath = environment[secretsDirectoryVariable] ?? defaultSecretsDirectory
        do {
            let secrets = try await DirectoryFilesProvider(
                directoryPath: FilePath(secretsPath),
                allowMissing: true
            )
            providers.append(KeyMappingProvider(upstream: secrets, keyMapper: SettingName.flatKey))
        } catch {
            throw ConfigurationError(
                setting: secretsDirectoryVariable,
                reason: "cannot read the secrets directory \(secretsPath): \(error)"
            )
        }
        return ConfigReader(providers: providers)
    }
}

/// The naming rule that ties a scoped configuration key to its one external name.
enum SettingName {
    /// `["access", "secret"]` -> `ACCESS_SECRET`, the environment variable's own rule.
    static func external(_ components: [String]) -> String {
        components.joined(separator: "_").uppercased()
    }

    /// Maps a scoped key to the single flat key that files use.
    @Sendable static func flatKey(_ key: AbsoluteConfigKey) -> AbsoluteConfigKey {
        AbsoluteConfigKey([external(key.components)], context: key.context)
    }

    /// Whether a value of this name must never reach a log.
    static func looksSecret(_ name: String) -> Bool {
        let upper = name.uppercased()
        return ["SECRET", "PASS", "PRIVATE", "TOKEN", "KEY"].contains { upper.contains($0) }
    }
}

/// A setting that could not be used, with a message that says which one and why.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The external name of the setting, e.g. `ACCESS_SECRET`.
    public var setting: String
    /// What is wrong with it. Never contains the value of a secret.
    public var reason: String

    public init(setting: String, reason: String) {
        self.setting = setting
        self.reason = reason
    }

    public var description: String { "configuration error: \(setting): \(reason)" }
}
