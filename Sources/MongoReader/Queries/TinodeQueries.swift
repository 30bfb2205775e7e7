/// The reads the Gateway makes, written from tinode-mongo-schema.md §4 and §6. Every one is a
/// `FindQuery` (see there for why nothing else exists). Ids are the stored 11-character forms.
public enum TinodeQueries {
    /// The most messages one page may ask for. Tinode caps a `{get data}` at 100; reading the store
    /// directly has no send queue to protect, so the Gateway allows larger pages.
    public static let maximumPageSize = 1000

    /// The user's state (0 ok, 10 suspended, 20 deleted), by primary key.
    public static func userState(_ user: TinodeUserID) -> FindQuery {
        FindQuery(
            collection: "users", filter: [BSONElement("_id", .string(user.stored))],
            projection: [BSONElement("state", .int32(1))], limit: 1)
    }

    /// A topic's state and channel flag, by its stored name (`grp...`).
    public static func topic(_ name: String) -> FindQuery {
        FindQuery(
            collection: "topics", filter: [BSONElement("_id", .string(name))],
            projection: [BSONElement("state", .int32(1)), BSONElement("usebt", .int32(1))], limit: 1)
    }

    /// The user's live subscription to a topic: `_id` is `"<topic>:<user>"`, and a subscription that
    /// was left or removed carries `deletedat` (never null, so `$exists: false` is the test).
    public static func subscription(topic: String, user: TinodeUserID) -> FindQuery {
        FindQuery(
            collection: "subscriptions",
            filter: [
                BSONElement("_id", .string(topic + ":" + user.stored)),
                BSONElement("deletedat", .document(["$exists": .bool(false)])),
            ],
            projection: [BSONElement("modewant", .int32(1)), BSONElement("modegiven", .int32(1)), BSONElement("state", .int32(1))],
            limit: 1)
    }

    /// One page of a topic's history as `reader` sees it, newest first: Tinode's own filter
    /// (`MessageGetAll`): no hard-deleted tombstones (`delid` present), none the reader soft-deleted
    /// (`deletedfor.user`), seq below `before` when given. Served by the index `topic_1_seqid_1`
    /// walked backwards; no `hint`, because a database without that index would then fail instead
    /// of being slow, and the reader may not create indexes.
    public static func messagePage(topic: String, reader: TinodeUserID, before: Int?, limit: Int) -> FindQuery {
        var seqRange: [BSONElement] = [BSONElement("$gte", .int32(0))]
        if let before { seqRange.append(BSONElement("$lt", .int64(Int64(before)))) }
        return FindQuery(
            collection: "messages",
            filter: [
                BSONElement("topic", .string(topic)),
                BSONElement("delid", .document(["$exists": .bool(false)])),
                BSONElement("deletedfor.user", .document(["$ne": .string(reader.stored)])),
                BSONElement("seqid", .document(seqRange)),
            ],
            projection: [
                BSONElement("_id", .int32(0)), BSONElement("seqid", .int32(1)), BSONElement("from", .int32(1)),
                BSONElement("createdat", .int32(1)), BSONElement("head", .int32(1)), BSONElement("content", .int32(1)),
            ],
            sort: [BSONElement("topic", .int32(-1)), BSONElement("seqid", .int32(-1))],
            limit: Int64(min(max(limit, 1), maximumPageSize)))
    }

    /// An active user's public card for the directory (`state: 0`, as Tinode's own search requires;
    /// only `public.fn`, not the photo).
    public static func directoryUser(_ user: TinodeUserID) -> FindQuery {
        FindQuery(
            collection: "users", filter: [BSONElement("_id", .string(user.stored)), BSONElement("state", .int32(0))],
            projection: [BSONElement("public.fn", .int32(1))], limit: 1)
    }

    /// The user's `basic` login: the `auth` record `{_id: "basic:<login>", userid, scheme: "basic"}`
    /// (index `userid_1`).
    public static func basicLogin(_ user: TinodeUserID) -> FindQuery {
        FindQuery(
            collection: "auth", filter: [BSONElement("userid", .string(user.stored)), BSONElement("scheme", .string("basic"))],
            projection: [BSONElement("_id", .int32(1))], limit: 1)
    }
}
