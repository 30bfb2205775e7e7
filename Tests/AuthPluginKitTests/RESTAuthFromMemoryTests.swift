import Foundation
import Logging
import SidecarCore
import TestSupport
import Testing
import Valkey

@testable import AuthPluginKit

@Suite("REST-auth answers from memory exactly what it would answer after I/O, and only while that holds")
struct RESTAuthFromMemoryTests {
    /// Runs `body` with a service on the shared test server, as AuthPlugin builds it, and a store of
    /// another process (the Gateway that writes and deletes records).
    private func withService(_ body: (RESTAuthService, ValkeyTokenStore, [String: String]) async throws -> Void) async throws {
        let url = try testValkeyURL()
        let environment = baseEnvironment(valkeyURL: url)
        var quiet = Logger(label: "RESTAuthFromMemoryTests")
        quiet.logLevel = .error
        let configuration = try await configuration(environment)
        let backend = try StoreBackend(configuration: configuration, logger: quiet)
        let service = try await RESTAuthService(configuration: configuration, backend: backend, logger: quiet)
        try await withValkeyClient(try ValkeyConfiguration(url: url)) { valkey in
            do {
                try await body(service, ValkeyTokenStore(client: valkey), environment)
                await backend.valkey?.shutdown()
            } catch {
                await backend.valkey?.shutdown()
                throw error
            }
        }
    }

    /// `auth` with `token` through ``RESTAuthService/handle(_:)`` until it is answered from memory too
    /// (the subscription is up and the record has its lease); returns the answer from memory.
    private func answeredFromMemory(_ service: RESTAuthService, _ request: RESTAuthRequest) async throws -> RESTAuthResponse {
        for _ in 0..<500 {
            _ = await service.handle(request)
            if let answer = service.answerFromMemory(request) { return answer }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw CancellationError()
    }

    @Test("rtagns, and auth of a remembered token with its record: the same answer as handle; revoked: expired at once")
    func sameAnswers() async throws {
        try await withService { service, gateway, environment in
            let rtagns = RESTAuthRequest(endpoint: "rtagns")
            #expect(service.answerFromMemory(rtagns) == (await service.handle(rtagns)))

            let uid = randomUID()
            let (token, accessID) = try await gatewayToken(uid: uid, environment: environment, store: gateway)
            let auth = RESTAuthRequest(endpoint: "auth", secret: Array(token.utf8), address: "127.0.0.1:5555")
            // Not remembered yet: nothing from memory, the verifier and the store decide.
            #expect(service.answerFromMemory(auth) == nil)
            let answer = try await answeredFromMemory(service, auth)
            #expect(answer == RESTAuthResponse(rec: RESTAuthService.knownUser(uid)))
            #expect(answer == (await service.handle(auth)))

            // Deleted by another process: once Valkey's report arrives, nothing from memory until the
            // store has been asked, which says expired; from then on that answer comes from memory.
            try await gateway.delete(accessID: accessID)
            var readAgain = false
            for _ in 0..<300 where !readAgain {
                if service.answerFromMemory(auth) == nil { readAgain = true } else { try await Task.sleep(for: .milliseconds(10)) }
            }
            #expect(readAgain, "the report of the delete must end the record's lease")
            #expect(await service.handle(auth) == .failure(.expired))
            #expect(try await answeredFromMemory(service, auth) == .failure(.expired))
        }
    }

    @Test("Everything else goes to handle under the deadline: other endpoints, unknown and unreadable secrets")
    func otherRequests() async throws {
        try await withService { service, _, _ in
            for endpoint in RESTAuthEndpoint.allCases where endpoint != .auth && endpoint != .rtagns {
                let request = RESTAuthRequest(
                    endpoint: endpoint.rawValue, record: .init(uid: randomUID(), tags: []), secret: Array("x.y.z".utf8))
                #expect(service.answerFromMemory(request) == nil, "\(endpoint)")
            }
            #expect(service.answerFromMemory(RESTAuthRequest(endpoint: "auth")) == nil)
            #expect(service.answerFromMemory(RESTAuthRequest(endpoint: "auth", secret: [0xFF, 0xFE])) == nil)
            #expect(service.answerFromMemory(RESTAuthRequest(endpoint: "auth", secret: Array("not.a.jwt".utf8))) == nil)
            #expect(service.answerFromMemory(RESTAuthRequest(endpoint: "nonsense")) == nil)
        }
    }
}
