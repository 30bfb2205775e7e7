import Foundation
import TinodeProto

/// Search through `fnd` (fixture f): the query is tags, `,` means OR and a space means AND; users
/// (but not the searcher) and groups whose tags satisfy it are found, most matching tags first.
extension WorldState {
    func findResults(for sessionID: Int, user: String) -> [Pbx_TopicSub] {
        guard let query = sessions[sessionID]?.findQuery else { return [] }
        let clauses = query.lowercased().split(separator: " ").map { clause in
            Set(clause.split(separator: ",").map(String.init))
        }
        guard !clauses.isEmpty else { return [] }
        let wanted = clauses.reduce(into: Set<String>()) { $0.formUnion($1) }

        var found: [(matched: [String], order: Int, entry: Pbx_TopicSub)] = []
        func consider(_ tags: [String], name: String, updatedAt: Int64, publicJSON: Data?, order: Int) {
            let tagSet = Set(tags)
            guard clauses.allSatisfy({ !$0.isDisjoint(with: tagSet) }) else { return }
            let matched = tags.filter(wanted.contains)
            var entry = Pbx_TopicSub()
            entry.topic = name
            entry.updatedAt = updatedAt
            // Present but empty, as Tinode sends it.
            entry.acs = Pbx_AccessMode()
            if let publicJSON { entry.public = publicJSON }
            entry.private = GoJSON.stringArray(matched)
            found.append((matched, order, entry))
        }
        for (order, record) in users.values.sorted(by: { $0.createdAt < $1.createdAt }).enumerated()
        where record.id != user && !record.isDeleted {
            consider(record.tags, name: record.id, updatedAt: record.updatedAt, publicJSON: record.publicJSON, order: order)
        }
        for (order, group) in topics.values.sorted(by: { $0.createdAt < $1.createdAt }).enumerated() {
            consider(group.tags, name: group.name, updatedAt: group.updatedAt, publicJSON: group.publicJSON, order: users.count + order)
        }
        return found.sorted { ($1.matched.count, $0.order) < ($0.matched.count, $1.order) }.map(\.entry)
    }
}
