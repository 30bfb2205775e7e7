import Foundation
import MongoReader

/// Client JSON as Tinode stores it in `content`: decoded by Go into `any` and written by the
/// driver, so every JSON number becomes a BSON double, objects become embedded documents and a
/// string stays a string (tinode-mongo-schema.md §2.5).
public enum ClientJSON {
    /// nil when `data` is not JSON.
    public static func storedContent(_ data: Data) -> BSONValue? {
        guard let value = try? JSONDecoder().decode(JSONTree.self, from: data) else { return nil }
        return value.bson
    }
}

/// A JSON value, decoded type by type so that `true` never turns into the number 1.
private indirect enum JSONTree: Decodable {
    case null, bool(Bool), number(Double), string(String), array([JSONTree]), object([String: JSONTree])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let flag = try? container.decode(Bool.self) {
            self = .bool(flag)
        } else if let number = try? container.decode(Double.self) {
            self = .number(number)
        } else if let text = try? container.decode(String.self) {
            self = .string(text)
        } else if let items = try? container.decode([JSONTree].self) {
            self = .array(items)
        } else {
            self = .object(try container.decode([String: JSONTree].self))
        }
    }

    var bson: BSONValue {
        switch self {
        case .null: return .null
        case .bool(let flag): return .bool(flag)
        case .number(let number): return .double(number)
        case .string(let text): return .string(text)
        case .array(let items): return .array(items.map(\.bson))
        case .object(let members):
            return .document(members.sorted { $0.key < $1.key }.map { BSONElement($0.key, $0.value.bson) })
        }
    }
}
