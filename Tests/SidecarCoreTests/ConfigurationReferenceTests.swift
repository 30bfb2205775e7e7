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

    /// The configuration table's rows, `name -> (default column, read-by column)`.
    static let rows: [String: (defaultValue: String, readBy: String)] = {
        var rows: [String: (defaultValue: String, readBy: String)] = [:]
        for line in readme.split(separator: "\n") where line.hasPrefix("| `") {
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 6 else { continue }
            rows[cells[1].trimmingCharacters(in: CharacterSet(charactersIn: "`"))] = (cells[2], cells[3])
        }
        return rows
    }()

    @Test("Every setting is documented with its default and the programs that read it", arguments: Settings.all)
    func documented(setting: Setting) {
        let row = Self.rows[setting.name]
        #expect(row != nil, "README lacks a row for \(setting.name)")
        if !setting.defaultValue.isEmpty {
            #expect(row?.defaultValue == "`\(setting.defaultValue)`", "README default of \(setting.name)")
        }
        #expect(row?.readBy == setting.readBy.readmeName, "README's read-by of \(setting.name)")
    }

    @Test("The README documents no setting the code does not read")
    func nothingExtra() {
        let names = Set(Settings.all.map(\.name))
        let documented = Set(Self.rows.keys).filter { $0.uppercased() == $0 && $0.contains("_") || $0 == "ENV" || $0 == "SSL" }
        #expect(documented.subtracting(names).isEmpty, "\(documented.subtracting(names))")
    }
}
