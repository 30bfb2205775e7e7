import Foundation
import Testing

@testable import SidecarCore

@Suite("The README's configuration reference matches the code")
struct ConfigurationReferenceTests {
    static let readme: String = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return (try? String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)) ?? ""
    }()

    /// The README table rows, `name -> default column`.
    static let rows: [String: String] = {
        var rows: [String: String] = [:]
        for line in readme.split(separator: "\n") where line.hasPrefix("| `") {
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 4 else { continue }
            rows[cells[1].trimmingCharacters(in: CharacterSet(charactersIn: "`"))] = cells[2]
        }
        return rows
    }()

    @Test("Every setting is documented with its default", arguments: Settings.all)
    func documented(setting: Setting) {
        let row = Self.rows[setting.name]
        #expect(row != nil, "README lacks a row for \(setting.name)")
        if !setting.defaultValue.isEmpty {
            #expect(row == "`\(setting.defaultValue)`", "README default of \(setting.name)")
        }
    }

    @Test("The README documents no setting the code does not read")
    func nothingExtra() {
        let names = Set(Settings.all.map(\.name))
        let documented = Set(Self.rows.keys).filter { $0.uppercased() == $0 && $0.contains("_") || $0 == "ENV" || $0 == "SSL" }
        #expect(documented.subtracting(names).isEmpty, "\(documented.subtracting(names))")
    }
}
