import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SidecarCore
import Testing
import TinodeDouble
import X509

@testable import GatewayKit

/// `SSL=true`: the Gateway serves HTTPS with the configured certificate and key.
@Suite("Gateway over HTTPS", .timeLimit(.minutes(2)))
struct HTTPSTests {
    /// A self-signed certificate for localhost, written as PEM files; returns their paths. (The test
    /// client does not verify it: what is checked is that the Gateway serves TLS with these files.)
    private func certificateFiles() throws -> (certificate: String, key: String) {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName("localhost") }
        let now = Date()
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(3600), issuer: name, subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                SubjectAlternativeNames([.dnsName("localhost")])
            },
            issuerPrivateKey: .init(key))
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("gateway-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let certificatePath = folder.appendingPathComponent("cert.pem").path
        let keyPath = folder.appendingPathComponent("key.pem").path
        try certificate.serializeAsPEM().pemString.write(toFile: certificatePath, atomically: true, encoding: .utf8)
        try key.pemRepresentation.write(toFile: keyPath, atomically: true, encoding: .utf8)
        return (certificatePath, keyPath)
    }

    @Test("register and send over HTTPS")
    func servesHTTPS() async throws {
        let files = try certificateFiles()
        let double = try await TinodeDouble.start()
        let owner = try double.createUser(login: "roomowner", password: "owner-password", name: "Owner")
        let room = double.createGroup(owner: owner, name: "general", tags: ["room:general"])
        let app = try await GatewayHarness.makeApplication(
            double: double, room: room, valkey: false,
            extraEnvironment: ["SSL": "true", "SSL_CERT_FILE": files.certificate, "SSL_KEY_FILE": files.key])
        try await app.test(.ahc(.https)) { client in
            let gateway = GatewayHarness(client: client, double: double, room: room, port: client.port ?? 0)
            let (_, tokens) = try await gateway.register("tlsuser")
            let token = try #require(tokens["access_token"] as? String)
            let sent = try await gateway.request(.post, "/v1/messages", json: ["text": "over TLS"], token: token)
            #expect(sent.status == 201)
            // A header flood is answered inside TLS too (the output is closed through TLS, not beside it).
            var flood = HTTPFields()
            for index in 0..<2000 { flood.append(HTTPField(name: HTTPField.Name("X-Flood-\(index)")!, value: "v")) }
            let refused = try await client.execute(uri: "/v1/me", method: .get, headers: flood)
            #expect(refused.status == .badRequest)
            #expect(String(buffer: refused.body).contains(#""code":"invalid_request""#))
        }
        await double.stop()
    }

    @Test("SSL=true with an unreadable certificate is a configuration error naming the setting")
    func badCertificate() async throws {
        let double = try await TinodeDouble.start()
        await #expect {
            _ = try await GatewayHarness.makeApplication(
                double: double, room: "grpX", valkey: false,
                extraEnvironment: ["SSL": "true", "SSL_CERT_FILE": "/nonexistent/cert.pem", "SSL_KEY_FILE": "/nonexistent/key.pem"])
        } throws: { error in
            (error as? ConfigurationError)?.setting == "SSL_CERT_FILE"
        }
        await double.stop()
    }
}
