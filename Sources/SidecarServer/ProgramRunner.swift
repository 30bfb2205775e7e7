import Foundation
import Hummingbird
import Logging
import SidecarCore

/// What both programs do around their own application: load the configuration, set up logs and
/// metrics, log the start-up report, run until SIGTERM/SIGINT, and turn a bad setting into one
/// clear line on standard error with exit status 78 (EX_CONFIG) instead of a stack trace.
public enum ProgramRunner {
    public static func run<App: ApplicationProtocol>(
        program: String,
        build: (SidecarConfiguration, Logger) async throws -> App
    ) async throws {
        let configuration: SidecarConfiguration
        do {
            configuration = try await ProgramConfiguration.load()
        } catch let error as ConfigurationError {
            FileHandle.standardError.write(Data("\(program): \(error)\n".utf8))
            exit(78)
        }
        Observability.bootstrap(logLevel: configuration.logLevel)
        let logger = Logger(label: program)
        configuration.logStartup(program: program, logger: logger)
        let app: App
        do {
            app = try await build(configuration, logger)
        } catch let error as ConfigurationError {
            logger.critical("\(error)")
            FileHandle.standardError.write(Data("\(program): \(error)\n".utf8))
            exit(78)
        }
        try await app.runService()
        logger.info("\(program) stopped")
    }
}
