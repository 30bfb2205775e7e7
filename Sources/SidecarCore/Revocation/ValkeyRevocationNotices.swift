import Valkey

/// Revocation notices over Valkey pub/sub, on the channel `<prefix>revocations`.
public struct ValkeyRevocationNotices: RevocationNotices {
    private let client: ValkeyClient
    private let channel: String

    public init(client: ValkeyClient, keyPrefix: String = "sidecar:") {
        self.client = client
        self.channel = keyPrefix + "revocations"
    }

    public func publish(_ notice: RevocationNotice) async throws {
        _ = try await storeOperation { try await client.publish(notice.encoded(), to: channel) }
    }

    public func listen(received: @escaping @Sendable (RevocationNotice) -> Void, resubscribed: @escaping @Sendable () async -> Void) async {
        await client.subscribe(
            to: channel,
            received: { bytes in
                if let notice = RevocationNotice(decoding: bytes) { received(notice) }
            }, subscribed: resubscribed)
    }
}
