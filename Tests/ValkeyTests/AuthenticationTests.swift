import Foundation
import TestSupport
import Testing
import Valkey

@Suite("Authentication and database selection")
struct AuthenticationTests {
    @Test("the right password connects")
    func rightPassword() async throws {
        try await withValkeyClient(TestEnvironment.configuration()) { client in
            try await client.ping()
        }
    }

    @Test("a wrong password fails with authenticationFailed, and the error does not contain it")
    func wrongPassword() async throws {
        var config = try TestEnvironment.configuration()
        config.password = "definitely-wrong-\(UUID().uuidString)"
        let wrong = config.password!
        try await withValkeyClient(config) { client in
            let error = await #expect(throws: ValkeyError.authenticationFailed) {
                try await client.ping()
            }
            #expect(error.map { !"\($0)".contains(wrong) } == true)
        }
    }

    @Test("a user name with the password is sent as AUTH user password")
    func aclUserAndPassword() async throws {
        var config = try TestEnvironment.configuration()
        // The default user accepts its password with the explicit name too; a wrong name is refused.
        config.username = "default"
        try await withValkeyClient(config) { client in
            try await client.ping()
        }
        config.username = "no-such-user"
        try await withValkeyClient(config) { client in
            await #expect(throws: ValkeyError.authenticationFailed) {
                try await client.ping()
            }
        }
    }

    @Test("without a password the server's NOAUTH reply surfaces as a server error")
    func missingPassword() async throws {
        var config = try TestEnvironment.configuration()
        config.password = nil
        try await withValkeyClient(config) { client in
            let error = await #expect(throws: ValkeyError.self) {
                try await client.ping()
            }
            guard case .serverError(let message) = error else {
                Issue.record("expected serverError, got \(String(describing: error))")
                return
            }
            #expect(message.hasPrefix("NOAUTH"))
        }
    }

    @Test("the database in the URL is selected after connecting")
    func selectsDatabase() async throws {
        let key = TestEnvironment.uniquePrefix() + "db"
        var db3 = try TestEnvironment.configuration()
        db3.database = 3
        var db0 = db3
        db0.database = 0
        try await withValkeyClient(db3) { client in
            try await client.set(key, to: "in three", expiration: .seconds(30))
            #expect(try await client.getString(key) == "in three")
        }
        try await withValkeyClient(db0) { client in
            let valueInDatabase0 = try await client.getString(key)
            #expect(valueInDatabase0 == nil)
        }
        try await withValkeyClient(db3) { client in
            try await client.del(key)
        }
    }
}
