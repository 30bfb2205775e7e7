import Foundation
import Testing
import Valkey

/// Access to the password-protected server that `scripts/test` starts for the whole run.
enum TestEnvironment {
    /// `VALKEY_TEST_URL`, e.g. `redis://:secretpw@127.0.0.1:6399/0`.
    ///
    /// A missing variable fails the test instead of skipping it: a suite that silently skips would report
    /// green without having talked to a server.
    static func valkeyURL(sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        try #require(
            ProcessInfo.processInfo.environment["VALKEY_TEST_URL"].flatMap { $0.isEmpty ? nil : $0 },
            """
            VALKEY_TEST_URL is not set: run scripts/test, which starts a password-protected redis-server and \
            exports it (or start one yourself and export VALKEY_TEST_URL=redis://:PASSWORD@127.0.0.1:PORT/0)
            """,
            sourceLocation: sourceLocation
        )
    }

    /// A configuration for the shared test server, with the given pool and timeouts. The default
    /// command timeout is generous so that a busy CI machine does not fail tests that are not about
    /// timeouts; those pass their own.
    static func configuration(
        poolSize: Int = 4,
        commandTimeout: Duration = .seconds(10),
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> ValkeyConfiguration {
        try ValkeyConfiguration(
            url: valkeyURL(sourceLocation: sourceLocation),
            poolSize: poolSize,
            commandTimeout: commandTimeout
        )
    }

    /// A key prefix of its own for every test, so that tests running in parallel never see each other's keys.
    static func uniquePrefix() -> String {
        "valkey-tests:\(UUID().uuidString):"
    }
}
