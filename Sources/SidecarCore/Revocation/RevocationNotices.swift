import Foundation

/// "These tokens no longer work": sent by whichever program revoked them (logout, logout-all,
/// refresh-token reuse, REST-auth `del`) to every Gateway instance, so that each closes the user's
/// Tinode session and ends the live streams that those tokens opened, at once rather than at their
/// next request.
///
/// The token store stays the authority: a notice only says "look now". An instance that missed one
/// (its subscription was down) finds the same answer when it checks its streams' tokens again
/// (after every resubscription, and every `GATEWAY_STREAM_RECHECK_SECONDS`).
public struct RevocationNotice: Sendable, Equatable, Codable {
    /// `usr...`.
    public var userID: String
    /// The login (refresh family) that ended; nil: every login of the user.
    public var familyID: String?

    public init(userID: String, familyID: String? = nil) {
        self.userID = userID
        self.familyID = familyID
    }

    enum CodingKeys: String, CodingKey {
        case userID = "user"
        case familyID = "login"
    }

    /// The largest notice accepted from the channel: a user id and a family id are well below it.
    static let maximumEncodedBytes = 512

    /// The wire form: `{"login":"<family>","user":"usr..."}`.
    public func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return Array((try? encoder.encode(self)) ?? Data())
    }

    /// A notice from the channel, or nil for anything that is not one (too long, not JSON, a user id
    /// that is not Tinode's shape): whoever can publish on the channel can write to the store anyway,
    /// but a malformed message must not end anybody's streams.
    public init?(decoding bytes: [UInt8]) {
        guard bytes.count <= Self.maximumEncodedBytes, let notice = try? JSONDecoder().decode(Self.self, from: Data(bytes)),
            notice.userID.hasPrefix("usr"), notice.userID.count <= 64, notice.familyID.map({ !$0.isEmpty && $0.count <= 64 }) ?? true
        else { return nil }
        self = notice
    }
}

/// Where revocation notices go and come from.
public protocol RevocationNotices: Sendable {
    /// Tells every instance. Best effort: the change in the token store is what counts.
    func publish(_ notice: RevocationNotice) async throws
    /// Calls `received` with every notice (this process's own included) until the task is
    /// cancelled, and `resubscribed` after each new subscription, when notices may have been missed.
    func listen(received: @escaping @Sendable (RevocationNotice) -> Void, resubscribed: @escaping @Sendable () async -> Void) async
}

/// One process (the embedded development store): nobody else to tell, so publishing does nothing;
/// the revoking instance acts on its own notice directly.
public struct LocalRevocationNotices: RevocationNotices {
    public init() {}

    public func publish(_ notice: RevocationNotice) async throws {}

    public func listen(received: @escaping @Sendable (RevocationNotice) -> Void, resubscribed: @escaping @Sendable () async -> Void) async {
        // Waits until cancelled.
        while (try? await Task.sleep(for: .seconds(3600))) != nil {}
    }
}
