import AuthPluginKit
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import SidecarCore
import Testing

@testable import GatewayKit

/// The Gateway and AuthPlugin share the token store: what the Gateway revokes, AuthPlugin refuses.
@Suite("Gateway and AuthPlugin together", .timeLimit(.minutes(2)))
struct CrossProgramTests {
    @Test("a Gateway access token logs in through REST-auth until logout, then answers expired")
    func logoutReachesAuthPlugin() async throws {
        guard let valkey = ProcessInfo.processInfo.environment["VALKEY_TEST_URL"], !valkey.isEmpty else {
            Issue.record("VALKEY_TEST_URL is not set: run scripts/test, which starts redis-server")
            return
        }
        let shared = [
            "ACCESS_SECRET": "gateway-test-access-secret-0123456789ab", "REFRESH_SECRET": "gateway-test-refresh-secret-0123456789a",
            "VALKEY_URL": valkey, "AUTHPLUGIN_HTTP_ADDR": "127.0.0.1:0", "AUTHPLUGIN_GRPC_ADDR": "127.0.0.1:0",
            "SIDECAR_SECRETS_DIR": "/nonexistent-sidecar-secrets",
            "LOG_LEVEL": "error",
        ]
        let configuration = try SidecarConfiguration(reader: try await ConfigurationSources.makeReader(environment: shared))
        var logger = Logger(label: "AuthPluginInCrossTest")
        logger.logLevel = .error
        let authPlugin = try await buildAuthPluginApplication(configuration: configuration, logger: logger)
        try await GatewayHarness.run(extraEnvironment: shared) { gateway in
            let (_, tokens) = try await gateway.register("crossuser")
            let access = try #require(tokens["access_token"] as? String)
            let userID = try #require(tokens["user_id"] as? String)
            let secret = Data(access.utf8).base64EncodedString()
            try await authPlugin.test(.live) { client in
                func auth() async throws -> [String: Any] {
                    let body = #"{"endpoint":"auth","name":"rest","secret":"\#(secret)"}"#
                    return try await client.execute(
                        uri: "/auth", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: body)
                    ) { response in
                        try #require(try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any])
                    }
                }
                // Several logins, so that AuthPlugin serves the token record from its client-side cache by
                // the time of the logout: the revocation must reach that cache too.
                for _ in 0..<5 {
                    let before = try await auth()
                    #expect((before["rec"] as? [String: Any])?["uid"] as? String == String(userID.dropFirst(3)))
                    try await Task.sleep(for: .milliseconds(50))
                }
                #expect(try await gateway.request(.post, "/v1/auth/logout", token: access).status == 204)
                let after = try await auth()
                #expect(after["err"] as? String == "expired")
            }
        }
    }
}
