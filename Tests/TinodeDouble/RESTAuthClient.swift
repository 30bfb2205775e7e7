import AsyncHTTPClient
import Foundation
import NIOCore
import Synchronization

/// The double's HTTP client for its REST-auth server: one per double, started on the first call
/// and shut down by `TinodeDouble.stop()` (a restarted double starts a new one). Calls are made
/// without the world lock held; only their outcome goes back under it.
final class RESTAuthClient: Sendable {
    let settings: TinodeDouble.RESTAuth
    private let client = Mutex<HTTPClient?>(nil)

    /// Bodies are small JSON documents; a larger one is treated like an unreadable one.
    private static let maxBodySize = 1 << 20

    private struct TimedOut: Error {}
    private struct UnexpectedStatus: Error {}

    init(settings: TinodeDouble.RESTAuth) {
        self.settings = settings
    }

    /// POSTs `body` to the endpoint the way Go's `http.Post` does (tinode-protocol.md 1.2), within
    /// `settings.timeout`. Every failure to get a 2xx JSON answer is `.failed`, as Tinode makes
    /// them all 500.
    func call(_ endpoint: String, body: Data) async -> RESTAuthAnswer {
        guard let url = settings.url(for: endpoint) else { return .failed }
        let client = self.client.withLock { client in
            if let client { return client }
            var configuration = HTTPClient.Configuration(decompression: .enabled(limit: .none))
            // A refused connection fails the call at once, as in Go, instead of being retried
            // until the timeout.
            configuration.connectionPool.retryConnectionEstablishment = false
            let created = HTTPClient(eventLoopGroup: TinodeDouble.eventLoops, configuration: configuration)
            client = created
            return created
        }
        let request = Self.request(url: url, body: body)
        let timeout = settings.timeout
        do {
            let answer = try await withThrowingTaskGroup(of: Data.self) { group in
                group.addTask {
                    let response = try await client.execute(request, timeout: .nanoseconds(timeout.nanoseconds))
                    // Go does not read the body of a non-2xx answer.
                    guard (200..<300).contains(response.status.code) else { throw UnexpectedStatus() }
                    return Data(try await response.body.collect(upTo: Self.maxBodySize).readableBytesView)
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    throw TimedOut()
                }
                defer { group.cancelAll() }
                return try await group.next()!
            }
            return RESTAuthAnswer(body: answer)
        } catch {
            return .failed
        }
    }

    /// The headers Go's `http.Post` sends besides `Host` and `Content-Length` (fixture rest-auth 02).
    private static func request(url: String, body: Data) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "User-Agent", value: "Go-http-client/1.1")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept-Encoding", value: "gzip")
        request.body = .bytes(ByteBuffer(bytes: body))
        return request
    }

    /// Closes the connections; the next call starts a new client.
    func shutdown() async {
        let client = self.client.withLock { client in
            defer { client = nil }
            return client
        }
        try? await client?.shutdown()
    }

    /// A double that was never stopped must not trip AsyncHTTPClient's check that every client is
    /// shut down before it goes away: the shutdown keeps the client alive until it is done.
    deinit {
        client.withLock { $0 }?.shutdown { _ in }
    }
}
