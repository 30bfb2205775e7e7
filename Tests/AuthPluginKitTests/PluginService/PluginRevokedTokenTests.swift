import AuthPluginKit
import Foundation
import SidecarCore
import TestSupport
import Testing
import TinodeProto
import Valkey

/// FireHose refuses `{login scheme:"token"}` with a Tinode token issued before the user's mark
/// (logout-all, deletion, refresh-token reuse), reading the token's layout (tinode-protocol.md 4.2).
@Suite("pbx.Plugin FireHose: Tinode tokens issued before a logout-all")
struct PluginRevokedTokenTests {
    /// A token in Tinode's layout: uid, expiry, level, serial, features, then 32 bytes that stand in
    /// for the HMAC (FireHose does not check it; Tinode does).
    static func token(uid: [UInt8], expires: Date) -> Data {
        var bytes = uid
        let seconds = UInt32(expires.timeIntervalSince1970)
        bytes += (0..<4).map { UInt8((seconds >> (8 * UInt32($0))) & 0xff) }
        bytes += [20, 0, 1, 0, 1, 0]
        bytes += [UInt8](repeating: 0xab, count: 32)
        return Data(bytes)
    }

    @Test("the layout: the uid's eight bytes are the usr id in base64url, the expiry little-endian seconds")
    func layout() throws {
        // From fixture c: Tinode issued a token for usr... whose first bytes decode this way.
        let uid: [UInt8] = [0x94, 0x22, 0x1e, 0x55, 0x28, 0xf9, 0xae, 0xb2]
        let expires = Date(timeIntervalSince1970: 1_800_000_000)
        let parsed = try #require(TinodeTokenLayout(Self.token(uid: uid, expires: expires)))
        #expect(
            parsed.userID == "usr"
                + Data(uid).base64EncodedString().replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: ""))
        #expect(parsed.expires == expires)
        #expect(parsed.issued(lifetime: .seconds(3_600)) == expires.addingTimeInterval(-3_600))
        #expect(TinodeTokenLayout(Data(repeating: 0, count: 49)) == nil)
    }

    @Test("a token issued before the mark gets 401; one issued after, and other users' tokens, continue")
    func refusedBeforeMark() async throws {
        let valkeyURL = try testValkeyURL()
        var env = pluginEnvironment(valkeyURL: valkeyURL)
        env["TINODE_TOKEN_LIFETIME_SECONDS"] = "3600"
        let uid = (0..<8).map { _ in UInt8.random(in: 0...255) }
        let other = (0..<8).map { _ in UInt8.random(in: 0...255) }
        let userID = try #require(TinodeTokenLayout(Self.token(uid: uid, expires: Date())))?.userID
        let now = Date()
        try await withValkeyClient(try ValkeyConfiguration(url: valkeyURL)) { valkey in
            try await ValkeyTinodeTokenRevocations(client: valkey, tokenLifetime: .seconds(3_600))
                .revoke(userID: try #require(userID), issuedBefore: now)
        }
        try await withPluginServer(env) { (harness: PluginHarness) async throws in
            func login(_ token: Data, scheme: String = "token") async throws -> Pbx_ServerResp {
                try await harness.plugin.fireHose(
                    .with {
                        $0.msg = .with {
                            $0.login = .with {
                                $0.id = "7"; $0.scheme = scheme; $0.secret = token
                            }
                        }
                        // Loopback is exempt from the login throttle: only the revocation applies.
                        $0.sess = .with { $0.remoteAddr = "127.0.0.1:5555" }
                    })
            }
            // Issued 10 minutes before the mark: expires 50 minutes after it with a one-hour lifetime.
            let stale = try await login(Self.token(uid: uid, expires: now.addingTimeInterval(3_000)))
            #expect(stale.status == .respond && stale.srvmsg.ctrl.code == 401 && stale.srvmsg.ctrl.id == "7", "\(stale)")
            let staleUpper = try await login(Self.token(uid: uid, expires: now.addingTimeInterval(3_000)), scheme: "TOKEN")
            #expect(staleUpper.status == .respond, "scheme names are case-insensitive in Tinode")
            let fresh = try await login(Self.token(uid: uid, expires: now.addingTimeInterval(3_700)))
            #expect(fresh.status == .continue, "issued after the mark")
            let someoneElse = try await login(Self.token(uid: other, expires: now.addingTimeInterval(3_000)))
            #expect(someoneElse.status == .continue)
            let basic = try await login(Data("alice:password".utf8), scheme: "basic")
            #expect(basic.status == .continue)
        }
    }

    @Test("a token that expires later than TINODE_TOKEN_LIFETIME_SECONDS allows is logged as a misconfiguration, once")
    func lifetimeMismatchLogged() async throws {
        var env = pluginEnvironment(valkeyURL: try testValkeyURL())
        env["TINODE_TOKEN_LIFETIME_SECONDS"] = "3600"
        let logs = CapturedLogs()
        let uid = (0..<8).map { _ in UInt8.random(in: 0...255) }
        try await withPluginServer(env, logger: logs.logger(label: "PluginTest", level: .error)) { (harness: PluginHarness) async throws in
            func login(expiresIn seconds: TimeInterval) async throws {
                _ = try await harness.plugin.fireHose(
                    .with {
                        $0.msg = .with {
                            $0.login = .with {
                                $0.id = "1"; $0.scheme = "token";
                                $0.secret = Self.token(uid: uid, expires: Date().addingTimeInterval(seconds))
                            }
                        }
                        $0.sess = .with { $0.remoteAddr = "127.0.0.1:5555" }
                    })
            }
            try await login(expiresIn: 3_500)
            #expect(!logs.all.contains { $0.contains("TINODE_TOKEN_LIFETIME_SECONDS") }, "within the lifetime: nothing to say")
            // Tinode's two weeks against a setting of one hour.
            try await login(expiresIn: 1_209_000)
            try await login(expiresIn: 1_209_000)
            #expect(logs.all.filter { $0.contains("TINODE_TOKEN_LIFETIME_SECONDS") }.count == 1, "\(logs.all)")
        }
    }
}
