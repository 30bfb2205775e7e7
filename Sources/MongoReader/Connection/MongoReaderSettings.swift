/// Where Tinode's MongoDB is and how patiently to read it.
public struct MongoReaderSettings: Sendable {
    /// A standard connection string (`mongodb://user:pw@host1,host2/?replicaSet=rs0`). It holds a
    /// password: log `redactedURL`, never this.
    public var url: String
    /// Tinode's database (its `store_config.adapters.mongodb.database`); a path in `url` is not used.
    public var database: String
    /// The deadline of one request's reads together; also libmongoc's server-selection, connect and
    /// socket timeouts unless `url` sets them.
    public var timeout: Duration
    /// Threads that run libmongoc's blocking calls, and clients in libmongoc's pool (one each).
    public var poolSize: Int
    /// Sent to MongoDB as the client's `appname` (visible in the server's logs and `currentOp`).
    public var applicationName: String

    public init(
        url: String, database: String = "tinode", timeout: Duration = .seconds(2), poolSize: Int = 4,
        applicationName: String = "tinode-sidecar-gateway"
    ) {
        self.url = url
        self.database = database
        self.timeout = timeout
        self.poolSize = poolSize
        self.applicationName = applicationName
    }

    var timeoutMilliseconds: Int64 {
        let components = timeout.components
        return max(1, components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000)
    }

    /// The URL with its password replaced by `***`, for logs.
    public var redactedURL: String { Self.redacted(url) }

    /// `mongodb://user:***@hosts/...`: the password (everything after the first `:` of the user
    /// information, up to the last `@` before the host list) masked; URLs without one unchanged.
    public static func redacted(_ url: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        let rest = url[scheme.upperBound...]
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        guard let at = rest[..<authorityEnd].lastIndex(of: "@") else { return url }
        let userInformation = rest[..<at]
        guard let colon = userInformation.firstIndex(of: ":") else { return url }
        return String(url[..<scheme.upperBound]) + userInformation[..<colon] + ":***" + rest[at...]
    }

    /// `text` with the URL's password (raw or as written in the URL) replaced by `***`, for messages
    /// from libmongoc that might quote the connection string.
    func redacting(_ text: String) -> String {
        guard let scheme = url.range(of: "://") else { return text }
        let rest = url[scheme.upperBound...]
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        guard let at = rest[..<authorityEnd].lastIndex(of: "@"), let colon = rest[..<at].firstIndex(of: ":") else { return text }
        let password = String(rest[rest.index(after: colon)..<at])
        guard !password.isEmpty else { return text }
        var result = text.replacing(url, with: redactedURL).replacing(password, with: "***")
        if let decoded = password.removingPercentEncodingIfPossible, decoded != password {
            result = result.replacing(decoded, with: "***")
        }
        return result
    }
}

extension String {
    /// Percent-decoding without Foundation (libmongoc accepts `%40` for `@` in passwords).
    fileprivate var removingPercentEncodingIfPossible: String? {
        var bytes: [UInt8] = []
        var iterator = utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next(), let low = iterator.next(),
                    let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
                else { return nil }
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }
}
