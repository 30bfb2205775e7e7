/// The only kind of request the reader sends: a `find` on one collection of Tinode's database.
///
/// Read-only by construction: Tinode owns every write, the Gateway's MongoDB user has only the `read`
/// role, and the reader has no code path that could issue an insert, update, delete, index build or
/// an aggregation with `$out`/`$merge`. Everything it sends is one of these values, executed with
/// `mongoc_collection_find_with_opts`; `command` spells out what reaches the server so that tests can
/// check it is a `find`.
public struct FindQuery: Sendable, Equatable {
    public let collection: String
    public let filter: [BSONElement]
    public let projection: [BSONElement]
    public let sort: [BSONElement]
    public let limit: Int64

    public init(
        collection: String, filter: [BSONElement], projection: [BSONElement], sort: [BSONElement] = [], limit: Int64
    ) {
        self.collection = collection
        self.filter = filter
        self.projection = projection
        self.sort = sort
        self.limit = limit
    }

    /// The options document of `mongoc_collection_find_with_opts`; `maxTimeMS` bounds the query on
    /// the server as well, so that a slow query cannot outlive the request that asked for it.
    func options(maxTimeMilliseconds: Int64) -> [BSONElement] {
        var options = [BSONElement("projection", .document(projection))]
        if !sort.isEmpty { options.append(BSONElement("sort", .document(sort))) }
        options.append(BSONElement("limit", .int64(limit)))
        options.append(BSONElement("maxTimeMS", .int64(maxTimeMilliseconds)))
        return options
    }

    /// The `find` command the driver sends for this query (without the driver's own `$db`,
    /// `lsid` and read-preference fields).
    public var command: [BSONElement] {
        var command = [BSONElement("find", .string(collection)), BSONElement("filter", .document(filter))]
        command.append(BSONElement("projection", .document(projection)))
        if !sort.isEmpty { command.append(BSONElement("sort", .document(sort))) }
        command.append(BSONElement("limit", .int64(limit)))
        return command
    }
}
