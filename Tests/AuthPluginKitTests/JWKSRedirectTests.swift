import Foundation
import Hummingbird
import Logging
import Synchronization
import TestSupport
import Testing

@testable import AuthPluginKit

/// The JWKS decides who logs in to Tinode, so its fetch follows a redirect only within the configured
/// URL's origin: another scheme (an `https` URL sent to `http` could be read and swapped on the way),
/// another host or another port is refused, and same-origin redirects at most three times.
@Suite("JWKS redirects", .timeLimit(.minutes(1)))
struct JWKSRedirectTests {
    /// A JWKS server on loopback that redirects as each path says, counting the requests for each.
    final class RedirectingIssuer: Sendable {
        let body = #"{"keys":[]}"#
        private let hits = Mutex<[String: Int]>([:])

        func count(_ path: String) -> Int { hits.withLock { $0[path] ?? 0 } }

        func serve(elsewhere: Int, _ test: @escaping @Sendable (_ port: Int) async throws -> Void) async throws {
            let router = Router()
            let bound = Mutex<Int?>(nil)
            func redirect(_ path: String, status: HTTPResponse.Status = .found, to location: @escaping @Sendable (Int) -> String) {
                router.get(RouterPath(path)) { _, _ -> Response in
                    self.hits.withLock { $0[path, default: 0] += 1 }
                    return Response(status: status, headers: [.location: location(bound.withLock { $0 } ?? 0)])
                }
            }
            router.get("/jwks.json") { _, _ -> Response in
                self.hits.withLock { $0["/jwks.json", default: 0] += 1 }
                return Response(
                    status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: self.body)))
            }
            redirect("/moved") { _ in "/jwks.json" }
            redirect("/moved-twice", status: .permanentRedirect) { port in "http://127.0.0.1:\(port)/moved" }
            redirect("/to-https") { port in "https://127.0.0.1:\(port)/jwks.json" }
            redirect("/to-other-host") { port in "http://localhost:\(port)/jwks.json" }
            redirect("/to-other-port") { _ in "http://127.0.0.1:\(elsewhere)/jwks.json" }
            redirect("/loop", status: .temporaryRedirect) { _ in "/loop" }
            var quiet = Logger(label: "jwks-redirect-test")
            quiet.logLevel = .critical
            let app = Application(
                router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                onServerRunning: { channel in bound.withLock { $0 = channel.localAddress?.port } }, logger: quiet)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await app.runService() }
                var port: Int?
                for _ in 0..<500 where port == nil {
                    port = bound.withLock { $0 }
                    if port == nil { try await Task.sleep(for: .milliseconds(10)) }
                }
                do {
                    try await test(try #require(port))
                } catch {
                    group.cancelAll()
                    throw error
                }
                group.cancelAll()
            }
        }
    }

    static func refusal(_ url: String) async -> String? {
        do {
            _ = try await JWKSFetcher.fetch(url)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test("same-origin redirects are followed, relative or absolute, up to three")
    func sameOrigin() async throws {
        let issuer = RedirectingIssuer()
        try await issuer.serve(elsewhere: try freeLoopbackPort()) { port in
            let base = "http://127.0.0.1:\(port)"
            let relative = try await JWKSFetcher.fetch(base + "/moved")
            #expect(String(decoding: relative, as: UTF8.self) == issuer.body)
            let absolute = try await JWKSFetcher.fetch(base + "/moved-twice")
            #expect(String(decoding: absolute, as: UTF8.self) == issuer.body)
            #expect(issuer.count("/jwks.json") == 2)

            let loop = await Self.refusal(base + "/loop")
            #expect(loop?.contains("more than 3 redirects") == true, "\(loop ?? "followed")")
            #expect(issuer.count("/loop") == 4)  // the request, then three redirects followed
        }
    }

    @Test("a redirect to another scheme, host or port is refused, and that address is never asked")
    func otherOrigins() async throws {
        let issuer = RedirectingIssuer()
        let elsewhere = try CountingListener()
        try await issuer.serve(elsewhere: elsewhere.port) { port in
            let base = "http://127.0.0.1:\(port)"
            for path in ["/to-https", "/to-other-host", "/to-other-port"] {
                let refused = await Self.refusal(base + path)
                #expect(refused?.contains("not followed") == true, "\(path): \(refused ?? "followed")")
                #expect(issuer.count(path) == 1)
            }
            #expect(issuer.count("/jwks.json") == 0)
            #expect(elsewhere.connectionsSoFar() == 0)
        }
    }

    @Test("origins compare scheme, host and port, default ports included: https to http is another origin")
    func origins() throws {
        func same(_ target: String, _ origin: String) throws -> Bool {
            JWKSFetcher.sameOrigin(try #require(URL(string: target)), try #require(URL(string: origin)))
        }
        #expect(try same("https://keys.example.com/a", "https://KEYS.example.com:443/jwks.json"))
        #expect(try !same("http://keys.example.com/jwks.json", "https://keys.example.com/jwks.json"))
        #expect(try !same("https://keys.example.com.evil.net/jwks.json", "https://keys.example.com/jwks.json"))
        #expect(try !same("https://keys.example.com:8443/jwks.json", "https://keys.example.com/jwks.json"))
        #expect(try !same("file:///etc/passwd", "https://keys.example.com/jwks.json"))
    }
}
