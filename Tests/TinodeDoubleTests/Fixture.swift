import Foundation

/// One recorded flow of shared/fixtures/tinode-grpc (format: shared/fixtures/README.md section 1).
struct Fixture: Sendable {
    struct Line: Sendable {
        /// 1-based line number in the file, for messages.
        let number: Int
        let stream: String?
        let direction: String
        let kind: String
        /// The serialized ClientMsg/ServerMsg of message lines.
        let payload: Data?
        /// `grpc_status` of `end` lines.
        let status: String?
        /// The text of `comment` lines.
        let comment: String?
        /// `t_ms`: milliseconds since the flow started, on the recorder's clock.
        let millis: Double?
    }

    struct Missing: Error, CustomStringConvertible {
        let description: String
    }

    let name: String
    /// The first line's `note`: what the flow shows, and the server settings it ran with.
    let note: String
    let lines: [Line]

    /// shared/fixtures/tinode-grpc beside the repository: walks up from this file to the folder
    /// holding Package.swift, then `../shared/fixtures/tinode-grpc`.
    static func directory(file: String = #filePath) throws -> URL {
        var folder = URL(fileURLWithPath: file).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: folder.appendingPathComponent("Package.swift").path) {
            let parent = folder.deletingLastPathComponent()
            guard parent.path != folder.path else { throw Missing(description: "no Package.swift above \(file)") }
            folder = parent
        }
        let fixtures = folder.deletingLastPathComponent().appendingPathComponent("shared/fixtures/tinode-grpc")
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: fixtures.path, isDirectory: &isFolder), isFolder.boolValue else {
            throw Missing(description: "the recorded Tinode transcripts are missing: expected the folder \(fixtures.path)")
        }
        return fixtures
    }

    /// The flow files, sorted; throws when the folder is missing or holds none.
    static func names() throws -> [String] {
        let folder = try directory()
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".jsonl") }.sorted()
        guard !names.isEmpty else { throw Missing(description: "no .jsonl transcripts in \(folder.path)") }
        return names
    }

    /// For parameterised tests: empty when the folder is missing (a separate test fails then).
    static var namesOrNone: [String] {
        (try? names()) ?? []
    }

    static func load(_ name: String) throws -> Fixture {
        let text = try String(contentsOf: directory().appendingPathComponent(name), encoding: .utf8)
        var lines: [Line] = []
        var note = ""
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where !rawLine.isEmpty {
            guard let object = try JSONSerialization.jsonObject(with: Data(rawLine.utf8)) as? [String: Any] else {
                throw Missing(description: "\(name):\(index + 1) is not a JSON object")
            }
            // The first line describes the flow.
            guard let direction = object["dir"] as? String, let kind = object["kind"] as? String else {
                note = object["note"] as? String ?? note
                continue
            }
            lines.append(Line(object, number: index + 1, direction: direction, kind: kind))
        }
        return Fixture(name: name, note: note, lines: lines)
    }
}

extension Fixture.Line {
    /// One event line in the README's section 1 format (also the `grpc` lines of rest-auth files).
    init(_ object: [String: Any], number: Int, direction: String, kind: String) {
        let textObject = object["text"] as? [String: Any]
        self.init(
            number: number,
            stream: object["stream"] as? String,
            direction: direction,
            kind: kind,
            payload: (object["pb_b64"] as? String).flatMap { Data(base64Encoded: $0) },
            status: textObject?["grpc_status"] as? String,
            comment: object["text"] as? String,
            millis: (object["t_ms"] as? NSNumber)?.doubleValue
        )
    }
}
