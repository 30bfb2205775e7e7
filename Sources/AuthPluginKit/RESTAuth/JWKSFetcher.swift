import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import SidecarCore

/// Fetches an external issuer's JSON Web Key Set over HTTP(S), bounded in time and size.
enum JWKSFetcher {
    /// A key set is a few kilobytes; anything far larger is not one.
    static let maximumBytes = 1 << 20
    static let timeout: TimeAmount = .seconds(5)

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
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Accept", value: "application/json")
        let response: HTTPClientResponse
        do {
            response = try await HTTPClient.shared.execute(request, timeout: timeout)
        } catch {
            throw JWKSError.unreachable(reason: "\(error)")
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
