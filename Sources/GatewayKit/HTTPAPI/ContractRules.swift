import Foundation
import GatewayContract

/// What the middlewares of the generated routes take from the contract itself
/// (`openapi/openapi.yaml`, generated into `GatewayAPIDocument`), so that the spec decides which
/// operations need a token and which take a JSON body, and a change of the spec cannot leave them
/// behind.
struct ContractRules: Sendable {
    /// Operations with a `security` requirement (a Bearer access token).
    var secured: Set<String> = []
    /// Operations with a JSON request body.
    var jsonBodies: Set<String> = []
    /// Per operation, the top-level properties of its success answer that the schema requires and
    /// allows to be null. The generated Codable types leave a nil out instead of writing `null`;
    /// ``RequiredNullFields`` puts them back.
    var nullableRequired: [String: Set<String>] = [:]

    /// The rules of the Gateway's own contract.
    static let gateway = ContractRules(document: Data(GatewayAPIDocument.json.utf8))

    init(document: Data) {
        guard let root = (try? JSONSerialization.jsonObject(with: document)) as? [String: Any],
            let paths = root["paths"] as? [String: Any]
        else { return }
        let schemas = ((root["components"] as? [String: Any])?["schemas"] as? [String: Any]) ?? [:]
        let globalSecurity = (root["security"] as? [Any]).map { !$0.isEmpty } ?? false
        for case let (_, item as [String: Any]) in paths {
            for case let (_, operation as [String: Any]) in item {
                guard let id = operation["operationId"] as? String else { continue }
                if (operation["security"] as? [Any]).map({ !$0.isEmpty }) ?? globalSecurity { secured.insert(id) }
                let content = (operation["requestBody"] as? [String: Any])?["content"] as? [String: Any]
                if content?["application/json"] != nil { jsonBodies.insert(id) }
                let fields = Self.nullableRequired(in: operation, schemas: schemas)
                if !fields.isEmpty { nullableRequired[id] = fields }
            }
        }
    }

    private static func nullableRequired(in operation: [String: Any], schemas: [String: Any]) -> Set<String> {
        var fields: Set<String> = []
        for case let (status, response as [String: Any]) in (operation["responses"] as? [String: Any]) ?? [:] where status.hasPrefix("2") {
            guard let content = response["content"] as? [String: Any], let json = content["application/json"] as? [String: Any],
                let schema = resolve(json["schema"], schemas: schemas)
            else { continue }
            let required = Set((schema["required"] as? [String]) ?? [])
            for case let (name, property as [String: Any]) in (schema["properties"] as? [String: Any]) ?? [:]
            where required.contains(name) && allowsNull(property) {
                fields.insert(name)
            }
        }
        return fields
    }

    private static func resolve(_ schema: Any?, schemas: [String: Any]) -> [String: Any]? {
        guard let schema = schema as? [String: Any] else { return nil }
        guard let reference = schema["$ref"] as? String else { return schema }
        return schemas[String(reference.split(separator: "/").last ?? "")] as? [String: Any]
    }

    private static func allowsNull(_ property: [String: Any]) -> Bool {
        if let types = property["type"] as? [String] { return types.contains("null") }
        return false
    }
}
