import Foundation

/// The basic-login credentials of the Gateway's own Tinode account (the one that finds or creates
/// the chat room), when the Gateway made that account itself (development without
/// `TINODE_SERVICE_LOGIN`).
public struct ServiceAccountCredentials: Codable, Sendable, Equatable {
    public var login: String
    public var password: String

    public init(login: String, password: String) {
        self.login = login
        self.password = password
    }

    /// A fresh login name (Tinode-legal: letters, digits, `_`) and a random password.
    public static func generate() -> ServiceAccountCredentials {
        let suffix = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let password = SecretBytes.random().bytes.map { String(format: "%02x", $0) }.joined()
        return ServiceAccountCredentials(login: "sidecar_svc_\(suffix.prefix(8))", password: password)
    }
}

/// Keeps the generated service account so that every Gateway (and every restart) uses the same one.
public protocol ServiceAccountStore: Sendable {
    /// The stored credentials, if any.
    func load() async throws -> ServiceAccountCredentials?
    /// Stores `credentials` unless some are stored already; returns what is stored afterwards, so
    /// that two Gateways starting at once agree on one account.
    func storeIfAbsent(_ credentials: ServiceAccountCredentials) async throws -> ServiceAccountCredentials
}

/// The embedded default: forgotten on restart (development only).
public actor InMemoryServiceAccountStore: ServiceAccountStore {
    private var stored: ServiceAccountCredentials?

    public init() {}

    public func load() -> ServiceAccountCredentials? { stored }

    public func storeIfAbsent(_ credentials: ServiceAccountCredentials) -> ServiceAccountCredentials {
        if let stored { return stored }
        stored = credentials
        return credentials
    }
}
