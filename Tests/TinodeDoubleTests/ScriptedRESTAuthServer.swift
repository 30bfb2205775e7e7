import Foundation
import Hummingbird
import Logging
import NIOCore
import Synchronization
import Testing

/// A REST-auth server for the double to call (tinode-protocol.md 1.2): real HTTP on a loopback
/// port, every POST recorded as it arrived, each answered with the next answer scripted for its
/// path. An unscripted call gets HTTP 500 and shows up in `requests`, so a test sees it.
final class ScriptedRESTAuthServer: Sendable {
    enum Answer: Sendable {
        /// HTTP 200, `Content-Type: application/json`, this body byte for byte (it may be empty or not JSON).
        case body(String)
        /// This status with a text body (fixture rest-auth 23).
        case status(Int, String)
        /// Status, `Content-Type` and body as given (a recorded answer).
        case raw(status: Int, contentType: String, body: String)
        /// No answer until the server stops: a hung IdP.
        case hang
        /// Made from the request when it arrives (answers that name what the double chose, such as a uid).
        case computed(@Sendable (Request) -> Answer)
    }

    struct Request: Sendable {
        let path: String
        let contentType: String?
        let userAgent: String?
        let body: Data

        var text: String { String(decoding: body, as: UTF8.self) }
    }

    private struct State {
        var script: [String: [Answer]] = [:]
        var requests: [Request] = []
        var stopping = false
    }

    private let state = Mutex(State())

    /// Queues answers for a path such as "/auth", used in order.
    func script(_ path: String, _ answers: Answer...) {
        state.withLock { $0.script[path, default: []] += answers }
    }

    /// Every call so far, oldest first.
    var requests: [Request] {
        state.withLock { $0.requests }
    }

    /// Serves on a free loopback port while `body` runs; `baseURL` is what tinode.conf's
    /// `server_url` would hold.
    static func run<Result: Sendable>(_ body: (_ server: ScriptedRESTAuthServer, _ baseURL: String) async throws -> Result)
        async throws -> Result
    {
        let server = ScriptedRESTAuthServer()
        let router = Router()
        router.post("**") { request, _ -> Response in
            let bytes = try await request.body.collect(upTo: 1 << 20)
            return await server.answer(
                Request(
                    path: request.uri.path, contentType: request.headers[.contentType], userAgent: request.headers[.userAgent],
                    body: Data(bytes.readableBytesView)))
        }
        let port = Mutex<Int?>(nil)
        var quiet = Logger(label: "scripted-rest-auth")
        quiet.logLevel = .critical
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in port.withLock { $0 = channel.localAddress?.port } }, logger: quiet)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService() }
            defer {
                server.state.withLock { $0.stopping = true }
                group.cancelAll()
            }
            var bound: Int?
            for _ in 0..<500 {
                bound = port.withLock { $0 }
                if bound != nil { break }
                try await Task.sleep(for: .milliseconds(10))
            }
            return try await body(server, "http://127.0.0.1:\(try #require(bound))/")
        }
    }

    private func answer(_ request: Request) async -> Response {
        let answer = state.withLock { state -> Answer in
            state.requests.append(request)
            guard var queue = state.script[request.path], !queue.isEmpty else { return .status(500, "nothing scripted") }
            let next = queue.removeFirst()
            state.script[request.path] = queue
            return next
        }
        return await respond(answer, to: request)
    }

    private func respond(_ answer: Answer, to request: Request) async -> Response {
        switch answer {
        case .body(let text):
            return await respond(.raw(status: 200, contentType: "application/json", body: text), to: request)
        case .status(let code, let text):
            return await respond(.raw(status: code, contentType: "text/plain; charset=utf-8", body: text), to: request)
        case .raw(let code, let contentType, let text):
            return Response(
                status: .init(code: code), headers: [.contentType: contentType], body: .init(byteBuffer: ByteBuffer(string: text)))
        case .computed(let make):
            return await respond(make(request), to: request)
        case .hang:
            while !state.withLock({ $0.stopping }) && !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(20))
            }
            return Response(status: .serviceUnavailable)
        }
    }
}
