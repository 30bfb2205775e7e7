import Foundation
import Logging
import Metrics
import MongoReader
import ServiceLifecycle
import SidecarCore

/// The Gateway's optional direct reads of Tinode's MongoDB (`MONGO_URL`): history without a round
/// trip through the user's Tinode session and without Tinode's 100-message page limit, and the
/// user directory. Tinode keeps every write; this side only reads (see `FindQuery`).
public struct StoreReads: Sendable {
    let reader: TinodeStoreReader
    /// When MongoDB fails: read history through Tinode's protocol (true) or answer 503 (false).
    let fallbackToTinode: Bool
    /// How long a client should wait before retrying after a 503.
    let retryAfter: Duration
    let metrics = StoreReadMetrics()

    /// Prepares the reader (no connection yet: libmongoc connects on the first read, so a MongoDB
    /// that is down at start does not stop the Gateway).
    public init(settings: MongoSettings, logger: Logger) throws {
        let readerSettings = MongoReaderSettings(
            url: settings.url, database: settings.database, timeout: settings.timeout, poolSize: settings.poolSize)
        do {
            reader = try TinodeStoreReader(settings: readerSettings)
        } catch {
            throw ConfigurationError(setting: Settings.mongoURL.name, reason: "\(error)")
        }
        fallbackToTinode = settings.fallbackToTinode
        retryAfter = max(.seconds(1), settings.timeout)
        logger.info(
            "history and user directory read from MongoDB",
            metadata: [
                "url": "\(readerSettings.redactedURL)", "database": "\(settings.database)", "fallback": "\(settings.fallbackToTinode)",
            ])
    }

    /// Stops the reader's threads on graceful shutdown.
    public var service: any Service { StoreReaderService(reader: reader) }
}

/// Counters of the MongoDB path, exported on `/metrics`.
struct StoreReadMetrics: Sendable {
    /// Reads that failed (MongoDB unreachable, refused, or past the deadline).
    let failures = Counter(label: "gateway_mongo_read_failures_total")
    /// History requests answered through Tinode's protocol because MongoDB failed.
    let fallbacks = Counter(label: "gateway_mongo_fallbacks_total")
}

/// Keeps the reader for the program's lifetime and stops its threads at the end.
struct StoreReaderService: Service {
    let reader: TinodeStoreReader

    func run() async throws {
        try? await gracefulShutdown()
        await reader.shutdown()
    }
}

extension ChatMessage {
    /// A stored message in the form the protocol path delivers it: the sender with its `usr`
    /// prefix, the time from `createdat`, content and head as the JSON Tinode would send.
    init(stored: StoredMessage, topic: String) {
        self.init(
            topic: topic, seq: stored.seq, from: stored.from.isEmpty ? "" : "usr" + stored.from,
            timestamp: Date(timeIntervalSince1970: TimeInterval(stored.createdAtMilliseconds) / 1000),
            content: Data(stored.content), head: stored.head.mapValues { Data($0) })
    }
}

extension APIError {
    /// MongoDB could not answer in time.
    static func storeUnavailable(retryAfter: Duration) -> APIError {
        APIError(.serviceUnavailable, "store_unavailable", "Tinode's database is unavailable; retry later.", retryAfter: retryAfter)
    }

    /// Why the store says the caller may not read the room, in the codes the protocol path uses.
    static func storeDenial(_ denial: AccessDenial) -> APIError {
        switch denial {
        case .userInactive: return APIError(.forbidden, "account_unavailable", "This account is suspended or deleted.")
        case .topicNotFound: return APIError(.notFound, "not_found", "The chat room does not exist (any more).")
        case .notSubscribed: return APIError(.forbidden, "not_a_member", "You are not a member of the chat room.")
        case .noReadAccess: return APIError(.forbidden, "forbidden", "You may not read the chat room.")
        }
    }
}
