import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import SidecarCore

/// Fetches an external issuer's JSON Web Key Set over HTTP(S), bounded in time and size.
///
/// Redirects are followed only within the configured URL's origin (same scheme, host and port),
/// at most ``maximumRedirects`` times. The keys decide who logs in to Tinode: a redirect from
/// `https` to `http` would let anyone on the path swap them, and one to another host would make
/// that host the issuer. AsyncHTTPClient follows both by default, so its own redirect handling is
/// off and this type decides.
enum JWKSFetcher {
    /// A key set is a few kilobytes; anything far larger is not one.
    static let maximumBytes = 1 << 20
    static let timeout: TimeAmount = .seconds(5)
    /// Same-origin redirects followed for one fetch (an issuer moving its keys to a new path).
    static let maximumRedirects = 3

    /// The client of every JWKS fetch: `HTTPClient.shared`'s settings, but without following
    /// redirects by itself. It lives as long as the process.
    private static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration.singletonConfiguration
        configuration.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    /// The key source for `settings`, logging each fetch's outcome (the URL, never a token).
    static func keySource(for settings: ExternalJWTSettings, logger: Logger) -> JWKSKeySource? {
        guard let url = settings.jwksURL else { return nil }
        let address = url.absoluteString
        return JWKSKeySource(refreshInterval: settings.jwksRefreshInterval) {
            try await fetch(address)
        } onFetch: { outcome in
            switch outcome {
            case .success(let count):
                logger.info("Fetched the external issuer's JWKS", metadata: ["url": "\(address)", "keys": "\(count)"])
            case .failure(let error):
                logger.warning("Could not use the external issuer's JWKS", metadata: ["url": "\(address)", "error": "\(error)"])
            }
        }
    }

    static func fetch(_ url: String) async throws -> [UInt8] {
        guard let origin = URL(string: url) else { throw JWKSError.unreachable(reason: "the JWKS URL is not a URL") }
        var current = origin
        var redirects = 0
        while true {
            var request = HTTPClientRequest(url: current.absoluteString)
            request.headers.add(name: "Accept", value: "application/json")
            let response: HTTPClientResponse
            do {
                response = try await client.execute(request, timeout: timeout)
            } catch {
                throw JWKSError.unreachable(reason: "\(error)")
            }
            if let location = redirectTarget(of: response, from: current) {
                guard redirects < maximumRedirects else {
                    throw JWKSError.unreachable(reason: "more than \(maximumRedirects) redirects")
                }
                guard Self.sameOrigin(location, origin) else {
                    throw JWKSError.unreachable(
                        reason: "redirected to \(location.absoluteString), outside the JWKS URL's scheme, host and port; not followed")
                }
                // Read (and drop) the redirect's own small body, so that its connection can be reused.
                _ = try? await response.body.collect(upTo: 64 * 1024)
                redirects += 1
                current = location
                continue
            }
            guard response.status == .ok else {
                throw JWKSError.unreachable(reason: "HTTP \(response.status.code)")
            }
            do {
                let body = try await response.body.collect(upTo: maximumBytes)
                return Array(body.readableBytesView)
            } catch {
                throw JWKSError.unreachable(reason: "the answer is not a key set of at most \(maximumBytes) bytes: \(error)")
            }
        }
    }

    /// Where a redirect answer points, resolved against the URL asked for; nil for any other answer.
    private static func redirectTarget(of response: HTTPClientResponse, from url: URL) -> URL? {
        guard [301, 302, 303, 307, 308].contains(response.status.code) else { return nil }
        guard let location = response.headers.first(name: "Location") else { return nil }
        return URL(string: location, relativeTo: url)?.absoluteURL
    }

    /// Same scheme, host (case-insensitive) and port, default ports filled in.
    static func sameOrigin(_ target: URL, _ origin: URL) -> Bool {
        func port(_ url: URL) -> Int? {
            url.port ?? (url.scheme?.lowercased() == "https" ? 443 : url.scheme?.lowercased() == "http" ? 80 : nil)
        }
        return target.scheme?.lowercased() == origin.scheme?.lowercased() && target.host?.lowercased() == origin.host?.lowercased()
            && port(target) == port(origin) && port(target) != nil
    }
}
