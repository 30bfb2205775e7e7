import Foundation
import TestSupport
import Testing
import Valkey

@Suite("Commands and typed helpers")
struct CommandTests {
    let prefix = TestEnvironment.uniquePrefix()

    @Test("set then get returns the value; a missing key reads as nil")
    func setGet() async throws {
        try await withValkeyClient(TestEnvironment.configuration()) { client in
            #expect(try await client.set(prefix + "k", to: "hello", expiration: .seconds(60)))
            #expect(try await client.getString(prefix + "k") == "hello")
            #expect(try await client.get(prefix + "missing") == nil)
            try await client.del(prefix + "k")
        }
    }

    @Test("binary values with NUL bytes and every byte value round-trip unchanged")
    func binaryValues() async throws {
        let value: [UInt8] = [0, 0, 1, 0] + Array(0...255) + [0]
        let binaryKey: [UInt8] = Array((prefix + "bin\0ary").utf8)
        try await withValkeyClient(TestEnvironment.configuration()) { client in
            try await client.set(prefix + "bin", to: value, expiration: .seconds(60))
            #expect(try await client.get(prefix + "bin") == value)
            // Arguments are binary-safe too, keys included.
            _ = try await client.command(bytes: [Array("SET".utf8), binaryKey, value, Array("EX".utf8), Array("60".utf8)])
            #expect(try await client.command(bytes: [Array("GET".utf8), binaryKey]) == .bulkString(value))
            #expect(try await client.command(bytes: [Array("STRLEN".utf8), binaryKey]) == .integer(Int64(value.count)))
            #expect(try await client.command(bytes: [Array("DEL".utf8), binaryKey]) == .integer(1))
            // An empty value is a value, not a missing key.
            try await client.set(prefix + "empty", to: [UInt8](), expiration: .seconds(60))
            #expect(try await client.get(prefix + "empty") == [])
            try await client.del(prefix + "bin", prefix + "empty")
        }
    }

    @Test("a 4 MiB value arrives in many reads and comes back whole, with commands around it answered in order")
    func largeValue() async throws {
        try await withValkeyClient(TestEnvironment.configuration(poolSize: 1)) { client in
            let key = prefix + "large"
            let value = (0..<(4 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            try await client.set(key, to: value, expiration: .seconds(60))
            async let before = client.command(["ECHO", "before"])
            async let large = client.get(key)
            async let after = client.command(["ECHO", "after"])
            #expect(try await before.string == "before")
            #expect(try await large == value)
            #expect(try await after.string == "after")
            try await client.del(key)
        }
    }

    @Test("del removes the given keys and counts those that existed")
    func delCounts() async throws {
        try await withValkeyClient(TestEnvironment.configuration()) { client in
            try await client.set(prefix + "a", to: "1")
            try await client.set(prefix + "b", to: "2")
            #expect(try await client.del(prefix + "a", prefix + "b", prefix + "c") == 2)
            #expect(try await client.get(prefix + "a") == nil)
            #expect(try await client.del([String]()) == 0)
        }
    }

    @Test("expire, pexpire and ttl follow the server's conventions")
    func expireAndTTL() async throws {
        let key = prefix + "ttl"
        try await withValkeyClient(TestEnvironment.configuration()) { client in
            #expect(try await client.ttl(key) == -2)
            #expect(try await client.expire(key, seconds: 10) == false)
            try await client.set(key, to: "v")
            #expect(try await client.ttl(key) == -1)
            #expect(try await client.expire(key, seconds: 100))
            #expect((99...100).contains(try await client.ttl(key)))
            #expect(try await client.pexpire(key, milliseconds: 50_000))
            #expect((49_000...50_000).contains(try await client.pttl(key)))
            try await client.del(key)
        }
    }

    @Test("set with a TTL: whole seconds and milliseconds are both honoured")
    func setWithTTL() async throws {
        try await withValkeyClient(TestEnvironment.configuration()) { client in
            try await client.set(prefix + "ex", to: "v", expiration: .seconds(100))
            #expect((99...100).contains(try await client.ttl(prefix + "ex")))
            try await client.set(prefix + "px", to: "v", expiration: .milliseconds(1_500))
            #expect((1_000...1_500).contains(try await client.pttl(prefix + "px")))
            try await client.del(prefix + "ex", prefix + "px")
        }
    }

    @Test("a value set with a TTL is gone once the TTL has passed")
    func ttlHonoured() async throws {
        let key = prefix + "short"
        try await withValkeyClient(TestEnvironment.configuration()) { client in
            // Long enough that a machine busy with other tests still reads the value before it expires.
            try await client.set(key, to: "brief", expiration: .seconds(1))
            #expect(try await client.getString(key) == "brief")
            try await Task.sleep(for: .milliseconds(1_600))
            #expect(try await client.getString(key) == nil)
        }
    }

    @Test("set NX only writes a missing key")
    func setNX() async throws {
        let key = prefix + "nx"
        try await withValkeyClient(TestEnvironment.configuration()) { client in
            #expect(try await client.set(key, to: "first", expiration: .seconds(60), onlyIfNotExists: true))
            #expect(try await client.set(key, to: "second", expiration: .seconds(60), onlyIfNotExists: true) == false)
            #expect(try await client.getString(key) == "first")
            try await client.del(key)
        }
    }

    @Test("sadd, srem and smembers round-trip set members")
    func sets() async throws {
        let key = prefix + "set"
        try await withValkeyClient(TestEnvironment.configuration()) { client in
            #expect(try await client.sadd(key, "a", "b", "c") == 3)
            #expect(try await client.sadd(key, "a", "d") == 1)
            #expect(Set(try await client.smembers(key)) == ["a", "b", "c", "d"])
            #expect(try await client.srem(key, "a", "zzz") == 1)
            #expect(Set(try await client.smembers(key)) == ["b", "c", "d"])
            #expect(try await client.smembers(prefix + "no-set").isEmpty)
            try await client.del(key)
        }
    }

    @Test("incr counts up from a missing key")
    func incr() async throws {
        let key = prefix + "counter"
        try await withValkeyClient(TestEnvironment.configuration()) { client in
            #expect(try await client.incr(key) == 1)
            #expect(try await client.incr(key) == 2)
            try await client.del(key)
        }
    }

    @Test("an error reply is thrown as serverError and the connection stays in use")
    func serverErrorKeepsConnection() async throws {
        let key = prefix + "not-a-number"
        try await withValkeyClient(TestEnvironment.configuration(poolSize: 1)) { client in
            let before = try await client.command(["CLIENT", "ID"])
            try await client.set(key, to: "abc", expiration: .seconds(60))
            let error = await #expect(throws: ValkeyError.self) {
                try await client.incr(key)
            }
            guard case .serverError(let message) = error else {
                Issue.record("expected serverError, got \(String(describing: error))")
                return
            }
            #expect(message.hasPrefix("ERR"))
            let after = try await client.command(["CLIENT", "ID"])
            #expect(before == after)
            try await client.del(key)
        }
    }

    @Test("scripts run by digest and are reloaded after the server forgets them")
    func scripts() async throws {
        let script = ValkeyScript("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        let key = prefix + "script"
        try await withValkeyClient(TestEnvironment.configuration()) { client in
            #expect(try await client.evaluate(script, keys: [key], arguments: ["5"]) == .integer(5))
            _ = try await client.command(["SCRIPT", "FLUSH"])
            #expect(try await client.evaluate(script, keys: [key], arguments: ["2"]) == .integer(7))
            #expect(try await client.eval("return ARGV[1]", arguments: ["x"]) == .bulkString(Array("x".utf8)))
            try await client.del(key)
        }
    }

    @Test("a transaction runs its commands together and returns each result")
    func transaction() async throws {
        let key = prefix + "tx"
        try await withValkeyClient(TestEnvironment.configuration()) { client in
            let results = try await client.transaction([["SET", key, "10"], ["INCR", key], ["PEXPIRE", key, "60000"]])
            #expect(results == [.simpleString("OK"), .integer(11), .integer(1)])
            await #expect(throws: ValkeyError.self) {
                try await client.transaction([["SET", key], ["INCR", key]])
            }
            #expect(try await client.getString(key) == "11")
            try await client.del(key)
        }
    }

    @Test("a pipeline returns one reply per command, errors in place")
    func pipeline() async throws {
        try await withValkeyClient(TestEnvironment.configuration()) { client in
            let replies = try await client.pipeline([["PING"], ["NOSUCHCOMMAND"], ["ECHO", "hi"]])
            #expect(replies.count == 3)
            #expect(replies[0] == .simpleString("PONG"))
            #expect(replies[1].string == nil)
            if case .error(let message) = replies[1] { #expect(message.hasPrefix("ERR")) } else { Issue.record("expected an error reply") }
            #expect(replies[2] == .bulkString(Array("hi".utf8)))
        }
    }
}
