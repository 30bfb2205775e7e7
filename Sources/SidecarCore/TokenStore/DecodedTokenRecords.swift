import Synchronization

/// Token records already decoded from their JSON, keyed by access id and checked against the bytes.
///
/// Valkey's client-side cache hands back the same bytes on every request of a user, and decoding
/// them with `JSONDecoder` was the largest single cost of REST-auth's `auth` after the cache. A hit
/// needs the stored bytes to be exactly the bytes just read, so a changed record is always decoded
/// anew. Bounded: when full it is emptied, which only costs decoding again.
final class DecodedTokenRecords: Sendable {
    private struct Entry {
        let bytes: [UInt8]
        let record: TokenRecord
    }

    private let capacity: Int
    private let entries = Mutex<[String: Entry]>([:])

    init(capacity: Int = 10_000) {
        self.capacity = capacity
    }

    func record(for accessID: String, bytes: [UInt8]) -> TokenRecord? {
        entries.withLock { entries in
            guard let entry = entries[accessID], entry.bytes == bytes else { return nil }
            return entry.record
        }
    }

    func remember(_ record: TokenRecord, for accessID: String, bytes: [UInt8]) {
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[accessID] = Entry(bytes: bytes, record: record)
        }
    }
}
