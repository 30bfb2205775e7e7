import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import SidecarCore

/// What both programs do around their own application: load the configuration, set up logs and
/// metrics, log the start-up report, run until SIGTERM/SIGINT, and turn a bad setting into one
/// clear line on standard error with exit status 78 (EX_CONFIG) instead of a stack trace.
public enum ProgramRunner {
    public static func run<App: ApplicationProtocol>(
        program: String, reads programs: Programs,
        build: (SidecarConfiguration, Logger) async throws -> App
    ) async throws {
        // Swift Concurrency's tasks run on NIO's event loops instead of a separate thread pool:
        // every request otherwise hops from the event loop that read it to the pool and back (on
        // REST-auth `/auth`, half of the process's CPU time was that pool's scheduling). Safe here
        // because nothing in either program blocks a thread; libraries that must block (none
        // today) get a thread pool of their own. Done once, before any other task is started.
        if !NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor() {
            FileHandle.standardError.write(Data("\(program): running tasks on the default executor\n".utf8))
        }
        let configuration: SidecarConfiguration
        do {
            configuration = try await ProgramConfiguration.load(program: programs)
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
