import CMongoc

/// libmongoc's client pool for one connection string. `mongoc_client_pool_t` is thread-safe; a
/// client popped from it is used by one thread at a time and pushed back. Every call here blocks,
/// so it only runs on `BlockingExecutor`'s threads, never on an event loop.
final class MongoClientPool: @unchecked Sendable {
    private let pool: OpaquePointer
    private let settings: MongoReaderSettings

    /// Parses the URL, fills in what it leaves open (timeouts, read preference, appname) and creates
    /// the pool. No connection is made yet: libmongoc connects on the first read.
    init(settings: MongoReaderSettings) throws(MongoReaderError) {
        _ = MongocLibrary.initialized
        self.settings = settings
        var error = bson_error_t()
        guard let uri = mongoc_uri_new_with_error(settings.url, &error) else {
            throw .invalidConfiguration("MONGO_URL is not a MongoDB connection string: \(settings.redacting(Self.message(of: error)))")
        }
        defer { mongoc_uri_destroy(uri) }
        // The user's own values in the URL win; otherwise the request deadline bounds each stage, so
        // that no read blocks a thread much longer than the request waits for it.
        let timeout = Int32(clamping: settings.timeoutMilliseconds)
        for option in [MONGOC_URI_SERVERSELECTIONTIMEOUTMS, MONGOC_URI_CONNECTTIMEOUTMS, MONGOC_URI_SOCKETTIMEOUTMS]
        where !mongoc_uri_has_option(uri, option) {
            mongoc_uri_set_option_as_int32(uri, option, timeout)
        }
        // Reads go to a secondary when there is one (the primary keeps Tinode's writes), unless the
        // URL says otherwise.
        if !mongoc_uri_has_option(uri, MONGOC_URI_READPREFERENCE) {
            let preference = mongoc_read_prefs_new(MONGOC_READ_SECONDARY_PREFERRED)
            mongoc_uri_set_read_prefs_t(uri, preference)
            mongoc_read_prefs_destroy(preference)
        }
        if !mongoc_uri_has_option(uri, MONGOC_URI_APPNAME) { _ = mongoc_uri_set_appname(uri, settings.applicationName) }
        guard let pool = mongoc_client_pool_new_with_error(uri, &error) else {
            throw .invalidConfiguration("MONGO_URL cannot be used: \(settings.redacting(Self.message(of: error)))")
        }
        mongoc_client_pool_set_error_api(pool, Int32(MONGOC_ERROR_API_VERSION_2))
        mongoc_client_pool_max_size(pool, UInt32(max(1, settings.poolSize)))
        self.pool = pool
    }

    deinit { mongoc_client_pool_destroy(pool) }

    /// Runs `body` with a client of the pool (blocking until one is free).
    func withConnection<T>(_ body: (MongoConnection) throws(MongoReaderError) -> T) throws(MongoReaderError) -> T {
        guard let client = mongoc_client_pool_pop(pool) else { throw .unavailable("no client available") }
        defer { mongoc_client_pool_push(pool, client) }
        return try body(MongoConnection(client: client, settings: settings))
    }

    static func message(of error: bson_error_t) -> String {
        var error = error
        return withUnsafeBytes(of: &error.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}

/// One popped client, for the duration of one job.
struct MongoConnection {
    let client: OpaquePointer
    let settings: MongoReaderSettings

    /// Runs a `find` and returns every document (the reader's queries all have a limit).
    func find(_ query: FindQuery) throws(MongoReaderError) -> [BSONDocument] {
        guard let collection = mongoc_client_get_collection(client, settings.database, query.collection) else {
            throw .unavailable("no collection handle")
        }
        defer { mongoc_collection_destroy(collection) }
        let filter = BSONDocument(query.filter)
        let options = BSONDocument(query.options(maxTimeMilliseconds: settings.timeoutMilliseconds))
        // Read preference nil: the one from the URI (secondaryPreferred by default).
        guard let cursor = mongoc_collection_find_with_opts(collection, filter.pointer, options.pointer, nil) else {
            throw .unavailable("no cursor")
        }
        defer { mongoc_cursor_destroy(cursor) }
        var documents: [BSONDocument] = []
        var current: OpaquePointer?
        while mongoc_cursor_next(cursor, &current) {
            if let current { documents.append(BSONDocument(copying: current)) }
        }
        var error = bson_error_t()
        if mongoc_cursor_error(cursor, &error) {
            throw .unavailable(settings.redacting(MongoClientPool.message(of: error)))
        }
        return documents
    }

    /// The first document, or nil.
    func findOne(_ query: FindQuery) throws(MongoReaderError) -> BSONDocument? {
        try find(query).first
    }
}
