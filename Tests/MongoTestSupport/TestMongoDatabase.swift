import CMongoc
import Foundation
import MongoReader

/// A scratch database on the MongoDB-compatible server named by `MONGO_TEST_URL`, filled with
/// libmongoc's write calls (tests only: the Gateway's reader has none) and dropped at the end.
/// One libmongoc client, used under a lock (a client is not thread-safe).
public final class TestMongoDatabase: @unchecked Sendable {
    /// `MONGO_TEST_URL`, when set and not empty.
    public static var url: String? {
        guard let url = ProcessInfo.processInfo.environment["MONGO_TEST_URL"], !url.isEmpty else { return nil }
        return url
    }

    public let url: String
    public let name: String
    private let client: OpaquePointer
    private let lock = NSLock()

    public init(url: String, name: String = "sidecar_test_\(UInt32.random(in: 0...UInt32.max))") throws {
        mongoc_init()
        var error = bson_error_t()
        guard let uri = mongoc_uri_new_with_error(url, &error) else { throw TestDatabaseError.failed(Self.message(error)) }
        defer { mongoc_uri_destroy(uri) }
        guard let client = mongoc_client_new_from_uri_with_error(uri, &error) else { throw TestDatabaseError.failed(Self.message(error)) }
        mongoc_client_set_error_api(client, Int32(MONGOC_ERROR_API_VERSION_2))
        self.url = url
        self.name = name
        self.client = client
    }

    deinit { mongoc_client_destroy(client) }

    /// Inserts the documents into `collection`.
    public func insert(_ collection: String, _ documents: [[BSONElement]]) throws {
        guard !documents.isEmpty else { return }
        let encoded = documents.map { BSONDocument($0) }
        try lock.withLock {
            let handle = mongoc_client_get_collection(client, name, collection)
            defer { mongoc_collection_destroy(handle) }
            var pointers: [OpaquePointer?] = encoded.map { document in document.withUnsafePointer { $0 } }
            var error = bson_error_t()
            let inserted = pointers.withUnsafeMutableBufferPointer { buffer in
                mongoc_collection_insert_many(handle, buffer.baseAddress, buffer.count, nil, nil, &error)
            }
            withExtendedLifetime(encoded) {}
            guard inserted else { throw TestDatabaseError.failed(Self.message(error)) }
        }
    }

    /// Drops the whole database.
    public func drop() {
        lock.withLock {
            let database = mongoc_client_get_database(client, name)
            defer { mongoc_database_destroy(database) }
            var error = bson_error_t()
            _ = mongoc_database_drop(database, &error)
        }
    }

    /// Settings for a reader of this database.
    public func readerSettings(timeout: Duration = .seconds(5)) -> MongoReaderSettings {
        MongoReaderSettings(url: url, database: name, timeout: timeout, poolSize: 2)
    }

    private static func message(_ error: bson_error_t) -> String {
        var error = error
        return withUnsafeBytes(of: &error.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}

public enum TestDatabaseError: Error, CustomStringConvertible {
    case failed(String)
    public var description: String {
        switch self {
        case .failed(let message): return "test MongoDB: \(message)"
        }
    }
}
