import Foundation
import SwiftProtobuf
import TinodeProto

/// A server message as a tree, in the form of the fixtures' `text`: field names as in model.proto,
/// only the fields on the wire (an empty sub-message that is present shows as an empty object),
/// enums by name, times as numbers, JSON `bytes` fields decoded.
indirect enum Shape: Equatable, Sendable, Decodable, CustomStringConvertible {
    case object([String: Shape])
    case array([Shape])
    case string(String)
    case number(Double)
    case bool(Bool)
    case null
    /// A bytes field that is not JSON.
    case bytes(Data)

    init(from decoder: any Swift.Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let flag = try? container.decode(Bool.self) {
            self = .bool(flag)
        } else if let number = try? container.decode(Double.self) {
            self = .number(number)
        } else if let text = try? container.decode(String.self) {
            self = .string(text)
        } else if let elements = try? container.decode([Shape].self) {
            self = .array(elements)
        } else {
            self = .object(try container.decode([String: Shape].self))
        }
    }

    var description: String {
        switch self {
        case .object(let members): "{" + members.keys.sorted().map { "\"\($0)\": \(members[$0]!)" }.joined(separator: ", ") + "}"
        case .array(let elements): "[" + elements.map(\.description).joined(separator: ", ") + "]"
        case .string(let text): "\"\(text)\""
        case .number(let number): number == number.rounded() && abs(number) < 1e15 ? String(Int64(number)) : "\(number)"
        case .bool(let flag): "\(flag)"
        case .null: "null"
        case .bytes(let data): "<bytes \(data.base64EncodedString())>"
        }
    }
}

enum MessageShape {
    /// int64 fields, which proto JSON writes as strings.
    static let int64Keys: Set<String> = [
        "created_at", "updated_at", "touched_at", "deleted_at", "state_at", "last_seen_time", "timestamp", "if_modified_since",
    ]

    /// Where ServerMsg carries JSON in `bytes` fields (tinode-protocol.md 3.3); `*` is every member.
    private static let jsonBytesPaths: [[String]] = [
        ["ctrl", "params", "*"], ["data", "content"], ["data", "head", "*"],
        ["meta", "desc", "public"], ["meta", "desc", "private"], ["meta", "desc", "trusted"],
        ["meta", "sub", "*", "public"], ["meta", "sub", "*", "private"], ["meta", "sub", "*", "trusted"],
        ["meta", "aux", "*"], ["info", "payload"],
    ]

    static func of(_ message: Pbx_ServerMsg) throws -> Shape {
        var options = JSONEncodingOptions()
        options.preserveProtoFieldNames = true
        var shape = try JSONDecoder().decode(Shape.self, from: message.jsonUTF8Data(options: options))
        shape = numbersForInt64(shape, key: nil)
        for path in jsonBytesPaths { shape = decodingBytes(shape, at: path[...]) }
        return shape
    }

    private static func numbersForInt64(_ shape: Shape, key: String?) -> Shape {
        switch shape {
        case .object(let members):
            return .object(Dictionary(uniqueKeysWithValues: members.map { ($0.key, numbersForInt64($0.value, key: $0.key)) }))
        case .array(let elements):
            return .array(elements.map { numbersForInt64($0, key: key) })
        case .string(let text) where key.map(int64Keys.contains) == true:
            return Double(text).map(Shape.number) ?? shape
        default:
            return shape
        }
    }

    private static func decodingBytes(_ shape: Shape, at path: ArraySlice<String>) -> Shape {
        guard let step = path.first else {
            guard case .string(let base64) = shape, let raw = Data(base64Encoded: base64) else { return shape }
            return (try? JSONDecoder().decode(Shape.self, from: raw)) ?? .bytes(raw)
        }
        let rest = path.dropFirst()
        switch shape {
        case .object(var members):
            for key in members.keys where step == "*" || key == step {
                members[key] = decodingBytes(members[key]!, at: rest)
            }
            return .object(members)
        case .array(let elements) where step == "*":
            return .array(elements.map { decodingBytes($0, at: rest) })
        default:
            return shape
        }
    }
}
