import Foundation

/// One scenario of shared/fixtures/rest-auth (README section 2): the calls Tinode made to the
/// REST-auth server with the answers it got, and the gRPC side as a flow the replayer plays.
struct RESTAuthFixture: Sendable {
    /// One call: what Tinode sent and what the recorder answered.
    struct Exchange: Sendable {
        let path: String
        let requestBody: String
        let status: Int
        let contentType: String
        let responseBody: String
    }

    let name: String
    let exchanges: [Exchange]
    let grpc: Fixture

    static func directory() throws -> URL {
        try Fixture.directory().deletingLastPathComponent().appendingPathComponent("rest-auth")
    }

    /// The scenario files, sorted.
    static func names() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory().path).filter { $0.hasSuffix(".json") }.sorted()
    }

    static func load(_ name: String) throws -> RESTAuthFixture {
        let data = try Data(contentsOf: directory().appendingPathComponent(name))
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any],
            let requests = object["requests"] as? [[String: Any]], let responses = object["responses_sent"] as? [[String: Any]],
            requests.count == responses.count, let grpc = object["grpc"] as? [[String: Any]]
        else { throw Fixture.Missing(description: "\(name) is not a rest-auth scenario") }
        let exchanges = try zip(requests, responses).map { request, response in
            guard let path = request["path"] as? String, let body = request["raw_body"] as? String,
                let status = response["status"] as? Int, let answer = response["raw_body"] as? String
            else { throw Fixture.Missing(description: "\(name): an exchange lacks path, status or a body") }
            let headers = response["headers"] as? [String: String] ?? [:]
            return Exchange(
                path: path, requestBody: body, status: status, contentType: headers["Content-Type"] ?? "application/json",
                responseBody: answer)
        }
        var lines: [Fixture.Line] = []
        for (index, line) in grpc.enumerated() {
            guard let direction = line["dir"] as? String, let kind = line["kind"] as? String else { continue }
            lines.append(Fixture.Line(line, number: index + 1, direction: direction, kind: kind))
        }
        let note = object["note"] as? String ?? ""
        return RESTAuthFixture(name: name, exchanges: exchanges, grpc: Fixture(name: name, note: note, lines: lines))
    }

    /// Scenarios recorded one after the other against the same server (02 creates the user 03 logs
    /// in) as one: streams renamed `<scenario>:<label>`, times moved on past the previous scenario.
    static func sequence(_ fixtures: [RESTAuthFixture]) -> RESTAuthFixture {
        var lines: [Fixture.Line] = []
        var offset = 0.0
        for fixture in fixtures {
            let prefix = String(fixture.name.prefix(2))
            for line in fixture.grpc.lines {
                lines.append(
                    Fixture.Line(
                        number: line.number, stream: line.stream.map { "\(prefix):\($0)" }, direction: line.direction, kind: line.kind,
                        payload: line.payload, status: line.status, comment: line.comment, millis: line.millis.map { $0 + offset }))
            }
            offset = (lines.compactMap(\.millis).max() ?? offset) + 300
        }
        let name = fixtures.map(\.name).joined(separator: "+")
        return RESTAuthFixture(
            name: name, exchanges: fixtures.flatMap(\.exchanges),
            grpc: Fixture(name: name, note: fixtures.map(\.grpc.note).joined(separator: " "), lines: lines))
    }
}
