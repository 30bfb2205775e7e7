import Testing
import Valkey

@Suite("Configuration from a URL")
struct ValkeyConfigurationTests {
    @Test("a full redis:// URL gives host, port, user, password and database")
    func fullURL() throws {
        let config = try ValkeyConfiguration(url: "redis://alice:s3cret@cache.internal:6380/2")
        #expect(config.host == "cache.internal")
        #expect(config.port == 6380)
        #expect(config.username == "alice")
        #expect(config.password == "s3cret")
        #expect(config.database == 2)
    }

    @Test("valkey:// is accepted; port and database default to 6379 and 0")
    func defaults() throws {
        let config = try ValkeyConfiguration(url: "valkey://localhost")
        #expect(config.host == "localhost")
        #expect(config.port == 6379)
        #expect(config.database == 0)
        #expect(config.username == nil)
        #expect(config.password == nil)
        #expect(config.poolSize == 8)
        #expect(config.connectTimeout == .seconds(2))
        #expect(config.commandTimeout == .seconds(2))
    }

    @Test("the separately supplied password is used when the URL has none")
    func separatePassword() throws {
        let config = try ValkeyConfiguration(url: "redis://valkey:6379/0", password: "from-env")
        #expect(config.password == "from-env")
    }

    @Test("a password in the URL wins over the separately supplied one")
    func urlPasswordWins() throws {
        let config = try ValkeyConfiguration(url: "redis://:in-url@valkey:6379", password: "from-env")
        #expect(config.password == "in-url")
    }

    @Test("percent-encoded credentials are decoded")
    func percentEncoding() throws {
        let config = try ValkeyConfiguration(url: "redis://us%40er:p%40ss%2Fw%3Ard@127.0.0.1:6379/1")
        #expect(config.username == "us@er")
        #expect(config.password == "p@ss/w:rd")
    }

    @Test("pool size and timeouts are taken as given")
    func poolAndTimeouts() throws {
        let config = try ValkeyConfiguration(
            url: "redis://h:1", poolSize: 3, connectTimeout: .milliseconds(250), commandTimeout: .milliseconds(750))
        #expect(config.poolSize == 3)
        #expect(config.connectTimeout == .milliseconds(250))
        #expect(config.commandTimeout == .milliseconds(750))
    }

    @Test("the description masks the password")
    func descriptionMasksPassword() throws {
        let config = try ValkeyConfiguration(url: "redis://alice:s3cret@cache.internal:6380/2")
        #expect(!config.description.contains("s3cret"))
        #expect(config.description.contains("redis://alice:***@cache.internal:6380/2"))
        #expect(!String(reflecting: config).contains("s3cret"))
        var dumped = ""
        dump(config, to: &dumped)
        #expect(!dumped.contains("s3cret"))
    }

    @Test(
        "bad URLs are refused with invalidURL",
        arguments: [
            "cache.internal:6379",
            "http://cache.internal:6379",
            "redis://",
            "redis://:6379",
            "redis://cache.internal:70000",
            "redis://cache.internal:6379/db1",
            "redis://cache.internal:6379/-1",
            "redis://cache.internal:6379/0?timeout=1",
        ]
    )
    func invalidURL(url: String) {
        let error = #expect(throws: ValkeyError.self) {
            try ValkeyConfiguration(url: url)
        }
        guard case .invalidURL = error else {
            Issue.record("expected invalidURL, got \(String(describing: error))")
            return
        }
    }

    @Test("rediss:// is refused with a message about TLS")
    func tlsRefused() {
        let error = #expect(throws: ValkeyError.self) {
            try ValkeyConfiguration(url: "rediss://:pw@cache.internal:6380")
        }
        guard case .invalidURL(let reason) = error else {
            Issue.record("expected invalidURL, got \(String(describing: error))")
            return
        }
        #expect(reason.contains("TLS"))
    }

    @Test("an error about a bad URL never repeats its password")
    func errorHidesPassword() {
        let error = #expect(throws: ValkeyError.self) {
            try ValkeyConfiguration(url: "redis://:hunter2@cache.internal:6379/notanumber")
        }
        #expect(error.map { !"\($0)".contains("hunter2") } == true)
    }
}
