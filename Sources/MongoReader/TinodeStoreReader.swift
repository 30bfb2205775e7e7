import Logging

/// Reads Tinode's MongoDB directly, read-only: a topic's history as one user may see it, and the
/// user directory. Applies Tinode's own visibility rules (tinode-mongo-schema.md §3.5, §4, §6), so
/// that what it returns is what `{get what:"data"}` would return, without Tinode's 100-message page
/// limit and without a round trip through a user's session.
///
/// Every call runs its libmongoc reads on the reader's own threads under one deadline.
public final class TinodeStoreReader: Sendable {
    public let settings: MongoReaderSettings
    private let clients: MongoClientPool
    private let executor: BlockingExecutor

    /// Checks the settings and prepares the pool; connects lazily, on the first read.
    public init(settings: MongoReaderSettings) throws(MongoReaderError) {
        guard !settings.database.isEmpty, !settings.database.contains(where: { "/\\. \"$".contains($0) }) else {
            throw .invalidConfiguration("`\(settings.database)` is not a MongoDB database name")
        }
        self.settings = settings
        clients = try MongoClientPool(settings: settings)
        executor = BlockingExecutor(threadCount: settings.poolSize)
    }

    /// Up to `limit` messages of `topic` (stored name, `grp...`) with seq below `before`, newest
    /// first, as `user` may see them; or why they may not.
    public func history(of topic: String, for user: TinodeUserID, before: Int?, limit: Int) async throws -> HistoryAnswer {
        try await executor.run(deadline: settings.timeout) { [clients] () throws(MongoReaderError) -> HistoryAnswer in
            try clients.withConnection { connection throws(MongoReaderError) -> HistoryAnswer in
                if let denial = try Self.readDenial(of: topic, for: user, on: connection) { return .denied(denial) }
                let documents = try connection.find(TinodeQueries.messagePage(topic: topic, reader: user, before: before, limit: limit))
                return .page(documents.compactMap(StoredMessage.init(document:)))
            }
        }
    }

    /// `target`'s directory entry, when `caller` may read `topic` and `target` is an active member
    /// of it too.
    public func directoryEntry(of target: TinodeUserID, for caller: TinodeUserID, in topic: String) async throws -> DirectoryAnswer {
        try await executor.run(deadline: settings.timeout) { [clients] () throws(MongoReaderError) -> DirectoryAnswer in
            try clients.withConnection { connection throws(MongoReaderError) -> DirectoryAnswer in
                if let denial = try Self.readDenial(of: topic, for: caller, on: connection) { return .denied(denial) }
                guard let user = try connection.findOne(TinodeQueries.directoryUser(target)),
                    let membership = try connection.findOne(TinodeQueries.subscription(topic: topic, user: target)),
                    AccessMode.isMember(want: membership.integer("modewant") ?? 0, given: membership.integer("modegiven") ?? 0),
                    membership.integer("state") ?? 0 != TopicState.deleted
                else { return .notFound }
                let login = try connection.findOne(TinodeQueries.basicLogin(target))?.string("_id").flatMap { id in
                    id.hasPrefix("basic:") ? String(id.dropFirst(6)) : nil
                }
                return .found(DirectoryEntry(userID: target, name: user.string("public.fn"), login: login))
            }
        }
    }

    /// Stops the reader's threads (after the jobs in flight). The pool closes when the reader is freed.
    public func shutdown() async {
        await executor.shutdown()
    }

    /// Nil when `user` may read `topic`: an active user (Tinode refuses other logins), a topic
    /// that exists and is not soft-deleted, a live subscription with J and R on both sides, and not
    /// marked deleted by its owner's soft-deletion (schema §4.5, §6 steps 1-3).
    static func readDenial(of topic: String, for user: TinodeUserID, on connection: MongoConnection) throws(MongoReaderError)
        -> AccessDenial?
    {
        guard let account = try connection.findOne(TinodeQueries.userState(user)),
            account.integer("state") ?? TopicState.ok == TopicState.ok
        else { return .userInactive }
        guard let topicDocument = try connection.findOne(TinodeQueries.topic(topic)),
            topicDocument.integer("state") ?? TopicState.ok != TopicState.deleted
        else { return .topicNotFound }
        guard let subscription = try connection.findOne(TinodeQueries.subscription(topic: topic, user: user)) else {
            return .notSubscribed
        }
        if subscription.integer("state") ?? TopicState.ok == TopicState.deleted { return .topicNotFound }
        let want = subscription.integer("modewant") ?? 0
        let given = subscription.integer("modegiven") ?? 0
        return AccessMode.canRead(want: want, given: given) ? nil : .noReadAccess
    }
}

/// `state` of users, topics and (after an owner's soft-deletion) subscriptions.
enum TopicState {
    static let ok: Int64 = 0
    static let suspended: Int64 = 10
    static let deleted: Int64 = 20
}
