import AuthPluginKit
import Foundation
import GRPCCore
import SidecarCore
import TestSupport
import Testing
import TinodeProto

@Suite("pbx.Plugin FireHose: policies over a real gRPC socket")
struct PluginFireHoseTests {
    @Test("messages no policy concerns are answered CONTINUE with nothing else")
    func othersContinue() async throws {
        let env = pluginEnvironment(valkeyURL: try testValkeyURL())
        try await withPluginServer(env) { (harness: PluginHarness) async throws in
            let messages: [Pbx_ClientMsg] = [
                .with {
                    $0.hi = .with {
                        $0.id = "1"; $0.ver = "0.25"
                    }
                },
                .with {
                    $0.sub = .with {
                        $0.id = "2"; $0.topic = "grpChat0000001"
                    }
                },
                .with {
                    $0.get = .with {
                        $0.id = "3"; $0.topic = "me"
                    }
                },
                .with {
                    $0.note = .with {
                        $0.topic = "grpChat0000001"; $0.what = .read; $0.seqID = 4
                    }
                },
                .with {
                    $0.pub = .with {
                        $0.id = "5"; $0.topic = "grpChat0000001"; $0.content = Data(#""hello""#.utf8)
                    }
                },
                .with {
                    $0.leave = .with {
                        $0.id = "6"; $0.topic = "grpChat0000001"
                    }
                },
            ]
            for message in messages {
                let answer = try await harness.plugin.fireHose(
                    .with {
                        $0.msg = message
                        $0.sess = .with {
                            $0.remoteAddr = uniqueClientAddress(); $0.userID = "usrAlice000001"; $0.authLevel = .auth
                        }
                    })
                #expect(answer.status == .continue, "\(message)")
                #expect(!answer.hasSrvmsg && !answer.hasClmsg)
            }
        }
    }

    @Test("login attempts beyond the limit per address get RESPOND with ctrl 429 and the client's id")
    func loginThrottle() async throws {
        let env = pluginEnvironment(valkeyURL: try testValkeyURL(), ["PLUGIN_LOGIN_ATTEMPTS_PER_MINUTE": "3"])
        try await withPluginServer(env) { (harness: PluginHarness) async throws in
            let address = uniqueClientAddress()
            for attempt in 1...3 {
                let answer = try await harness.plugin.fireHose(loginRequest(id: "login-\(attempt)", remoteAddr: address))
                #expect(answer.status == .continue, "attempt \(attempt)")
            }
            let refused = try await harness.plugin.fireHose(loginRequest(id: "login-4", remoteAddr: address))
            #expect(refused.status == .respond)
            #expect(refused.srvmsg.ctrl.id == "login-4")
            #expect(refused.srvmsg.ctrl.code == 429)
            #expect(refused.srvmsg.ctrl.text == "too many requests")
            // `{acc}` counts against the same bucket.
            let account = try await harness.plugin.fireHose(
                newAccountRequest(id: "acc-5", login: "whoever", email: "x@example.com", remoteAddr: address))
            #expect(account.status == .respond)
            #expect(account.srvmsg.ctrl.id == "acc-5")
            #expect(account.srvmsg.ctrl.code == 429)
            // Another address, and the same address's other messages, are not affected.
            #expect(try await harness.plugin.fireHose(loginRequest(id: "other", remoteAddr: uniqueClientAddress())).status == .continue)
            let hi = try await harness.plugin.fireHose(
                .with {
                    $0.msg = .with { $0.hi = .with { $0.id = "hi" } }
                    $0.sess = .with { $0.remoteAddr = address }
                })
            #expect(hi.status == .continue)
        }
    }

    @Test("the login buckets live in Valkey: two AuthPlugin instances share them")
    func throttleSharedBetweenInstances() async throws {
        let env = pluginEnvironment(valkeyURL: try testValkeyURL(), ["PLUGIN_LOGIN_ATTEMPTS_PER_MINUTE": "4"])
        let address = uniqueClientAddress()
        try await withPluginServer(env) { (first: PluginHarness) async throws in
            try await withPluginServer(env) { (second: PluginHarness) async throws in
                #expect(first.port != second.port)
                for attempt in 1...2 {
                    #expect(try await first.plugin.fireHose(loginRequest(id: "a\(attempt)", remoteAddr: address)).status == .continue)
                    #expect(try await second.plugin.fireHose(loginRequest(id: "b\(attempt)", remoteAddr: address)).status == .continue)
                }
                let refused = try await first.plugin.fireHose(loginRequest(id: "a3", remoteAddr: address))
                #expect(refused.status == .respond && refused.srvmsg.ctrl.code == 429)
            }
        }
    }

    @Test("addresses are keyed without their port, IPv6 and X-Forwarded-For forms included")
    func addressForms() async throws {
        let env = pluginEnvironment(valkeyURL: try testValkeyURL(), ["PLUGIN_LOGIN_ATTEMPTS_PER_MINUTE": "2"])
        try await withPluginServer(env) { (harness: PluginHarness) async throws in
            func status(_ id: String, _ remoteAddr: String) async throws -> Pbx_RespCode {
                try await harness.plugin.fireHose(loginRequest(id: id, remoteAddr: remoteAddr)).status
            }
            let v6 = "fd00::" + String(Int.random(in: 1...0xffff), radix: 16)
            // Different ports, one client: the third attempt is refused.
            let v6Statuses = [
                try await status("1", "[" + v6 + "]:1000"), try await status("2", "[" + v6 + "]:2000"), try await status("3", v6),
            ]
            #expect(v6Statuses == [.continue, .continue, .respond])
            let v4 = "10." + String(Int.random(in: 1...254)) + "." + String(Int.random(in: 1...254)) + ".7"
            let v4Statuses = [
                try await status("4", v4 + ", 172.16.0.1"), try await status("5", v4 + ":5"), try await status("6", v4),
            ]
            #expect(v4Statuses == [.continue, .continue, .respond])
        }
    }

    @Test("clients in PLUGIN_THROTTLE_EXEMPT_NETWORKS (loopback by default) and a limit of 0 are never throttled")
    func throttleOff() async throws {
        let url = try testValkeyURL()
        let exempt = pluginEnvironment(
            valkeyURL: url, ["PLUGIN_LOGIN_ATTEMPTS_PER_MINUTE": "1", "PLUGIN_THROTTLE_EXEMPT_NETWORKS": "192.168.77.0/24"])
        try await withPluginServer(exempt) { (harness: PluginHarness) async throws in
            for attempt in 1...5 {
                let answer = try await harness.plugin.fireHose(loginRequest(id: "\(attempt)", remoteAddr: "192.168.77.9:4000"))
                #expect(answer.status == .continue)
            }
        }
        // Loopback is exempt by default (a Gateway on the same host).
        try await withPluginServer(pluginEnvironment(valkeyURL: url, ["PLUGIN_LOGIN_ATTEMPTS_PER_MINUTE": "1"])) {
            (harness: PluginHarness) async throws in
            for attempt in 1...5 {
                let answer = try await harness.plugin.fireHose(loginRequest(id: "\(attempt)", remoteAddr: "127.0.0.1:\(40000 + attempt)"))
                #expect(answer.status == .continue)
            }
        }
        try await withPluginServer(pluginEnvironment(valkeyURL: url, ["PLUGIN_LOGIN_ATTEMPTS_PER_MINUTE": "0"])) {
            (harness: PluginHarness) async throws in
            let address = uniqueClientAddress()
            for attempt in 1...30 {
                #expect(try await harness.plugin.fireHose(loginRequest(id: "\(attempt)", remoteAddr: address)).status == .continue)
            }
        }
    }

    @Test("an unreachable Valkey lets logins through quickly instead of locking everyone out")
    func throttleFailsOpen() async throws {
        // Nothing listens on this port.
        let deadPort = try freeLoopbackPort()
        let env = pluginEnvironment(
            valkeyURL: "redis://127.0.0.1:\(deadPort)/0",
            [
                "PLUGIN_LOGIN_ATTEMPTS_PER_MINUTE": "1", "PLUGIN_THROTTLE_TIMEOUT_MS": "250", "VALKEY_CONNECT_TIMEOUT_MS": "100",
                "VALKEY_COMMAND_TIMEOUT_MS": "100",
            ])
        try await withPluginServer(env) { (harness: PluginHarness) async throws in
            let address = uniqueClientAddress()
            for attempt in 1...3 {
                let started = ContinuousClock.now
                let answer = try await harness.plugin.fireHose(loginRequest(id: "\(attempt)", remoteAddr: address))
                #expect(answer.status == .continue)
                // Alone this takes milliseconds (refused connections). The bound is wide because, in the
                // full test run, other suites' Valkey outage tests keep the process's shared hiredis
                // threads busy for seconds; it still tells "let through" from "hung until Tinode gives up".
                #expect(ContinuousClock.now - started < .seconds(10))
            }
        }
    }

    @Test("a {pub} whose content is over the limit gets ctrl 413 with its id and topic; at the limit it passes")
    func sizeGuard() async throws {
        let env = pluginEnvironment(valkeyURL: try testValkeyURL(), ["PLUGIN_MAX_PUB_BYTES": "100"])
        try await withPluginServer(env) { (harness: PluginHarness) async throws in
            func publish(_ bytes: Int, id: String) async throws -> Pbx_ServerResp {
                try await harness.plugin.fireHose(
                    .with {
                        $0.msg = .with {
                            $0.pub = .with {
                                $0.id = id
                                $0.topic = "grpChat0000001"
                                $0.content = Data(repeating: UInt8(ascii: "a"), count: bytes)
                            }
                        }
                        $0.sess = .with {
                            $0.userID = "usrAlice000001"; $0.remoteAddr = "127.0.0.1:5000"
                        }
                    })
            }
            #expect(try await publish(100, id: "ok").status == .continue)
            let refused = try await publish(101, id: "big")
            #expect(refused.status == .respond)
            #expect(refused.srvmsg.ctrl.id == "big")
            #expect(refused.srvmsg.ctrl.topic == "grpChat0000001")
            #expect(refused.srvmsg.ctrl.code == 413)
        }
        let off = pluginEnvironment(valkeyURL: try testValkeyURL(), ["PLUGIN_MAX_PUB_BYTES": "0"])
        try await withPluginServer(off) { (harness: PluginHarness) async throws in
            let answer = try await harness.plugin.fireHose(
                .with {
                    $0.msg = .with {
                        $0.pub = .with {
                            $0.id = "x"; $0.content = Data(count: 200_000)
                        }
                    }
                })
            #expect(answer.status == .continue)
        }
    }

    @Test("a new basic account must use its e-mail's login name (ctrl 422 otherwise)")
    func canonicalLogins() async throws {
        let env = pluginEnvironment(valkeyURL: try testValkeyURL())
        let mapper = try LoginNameMapper()
        let email = "Carol.Smith+\(Int.random(in: 1...999_999))@Example.com"
        let canonical = try mapper.loginName(for: email)
        try await withPluginServer(env) { (harness: PluginHarness) async throws in
            let good = try await harness.plugin.fireHose(newAccountRequest(id: "a1", login: canonical, email: email))
            #expect(good.status == .continue)
            // Tinode lower-cases basic logins, so case does not matter.
            let upper = try await harness.plugin.fireHose(newAccountRequest(id: "a2", login: canonical.uppercased(), email: email))
            #expect(upper.status == .continue)
            let bad = try await harness.plugin.fireHose(newAccountRequest(id: "a3", login: "carol", email: email))
            #expect(bad.status == .respond)
            #expect(bad.srvmsg.ctrl.id == "a3")
            #expect(bad.srvmsg.ctrl.code == 422)
            #expect(bad.srvmsg.ctrl.text == "policy violation")
            let notAnAddress = try await harness.plugin.fireHose(newAccountRequest(id: "a4", login: "carol", email: "no-at-sign"))
            #expect(notAnAddress.status == .respond && notAnAddress.srvmsg.ctrl.code == 422)
            // Not concerned: another scheme, an existing user, no e-mail credential.
            var rest = newAccountRequest(id: "a5", login: "carol", email: email)
            rest.msg.acc.scheme = "rest"
            #expect(try await harness.plugin.fireHose(rest).status == .continue)
            var update = newAccountRequest(id: "a6", login: "carol", email: email)
            update.msg.acc.userID = "usrCarol000001"
            #expect(try await harness.plugin.fireHose(update).status == .continue)
            // The Gateway's development service account: `<login>@gateway.invalid`, never a mailbox.
            let service = try await harness.plugin.fireHose(
                newAccountRequest(id: "a8", login: "sidecar_svc_4f2a9c01", email: "sidecar_svc_4f2a9c01@gateway.invalid"))
            #expect(service.status == .continue)
            var phone = newAccountRequest(id: "a7", login: "carol", email: email)
            phone.msg.acc.cred = [
                .with {
                    $0.method = "tel"; $0.value = "+15551234567"
                }
            ]
            #expect(try await harness.plugin.fireHose(phone).status == .continue)
        }
        let off = pluginEnvironment(valkeyURL: try testValkeyURL(), ["PLUGIN_CANONICAL_LOGINS": "false"])
        try await withPluginServer(off) { (harness: PluginHarness) async throws in
            #expect(try await harness.plugin.fireHose(newAccountRequest(id: "b1", login: "carol", email: email)).status == .continue)
        }
    }

    /// Two addresses whose canonical names collide (md5's first 32 bits), found offline by
    /// `bench/login-name-collision.py`; the same pair as in SidecarCoreTests' LoginNameCollisionTests.
    static let victim = "john@gm33663.example"
    static let squatter = "john@gm154358.example"

    @Test("the extended name is accepted for its own address and refused for a colliding one")
    func extendedLogins() async throws {
        let env = pluginEnvironment(valkeyURL: try testValkeyURL())
        let mapper = try LoginNameMapper()
        let canonical = try mapper.loginName(for: Self.victim)
        let extended = try mapper.extendedLoginName(for: Self.victim)
        try #require(canonical == (try mapper.loginName(for: Self.squatter)))
        try await withPluginServer(env) { (harness: PluginHarness) async throws in
            // The squat itself: the colliding address's canonical name is the victim's, so it passes.
            let squat = try await harness.plugin.fireHose(newAccountRequest(id: "c1", login: canonical, email: Self.squatter))
            #expect(squat.status == .continue)
            // The victim then registers the extended name, which the squatter's address cannot take.
            let own = try await harness.plugin.fireHose(newAccountRequest(id: "c2", login: extended, email: Self.victim))
            #expect(own.status == .continue)
            let upper = try await harness.plugin.fireHose(newAccountRequest(id: "c3", login: extended.uppercased(), email: Self.victim))
            #expect(upper.status == .continue)
            let stolen = try await harness.plugin.fireHose(newAccountRequest(id: "c4", login: extended, email: Self.squatter))
            #expect(stolen.status == .respond)
            #expect(stolen.srvmsg.ctrl.id == "c4")
            #expect(stolen.srvmsg.ctrl.code == 422)
            // The squatter's own extended name stays its own.
            let squatterExtended = try mapper.extendedLoginName(for: Self.squatter)
            let theirs = try await harness.plugin.fireHose(newAccountRequest(id: "c5", login: squatterExtended, email: Self.squatter))
            #expect(theirs.status == .continue)
            let swapped = try await harness.plugin.fireHose(newAccountRequest(id: "c6", login: squatterExtended, email: Self.victim))
            #expect(swapped.status == .respond && swapped.srvmsg.ctrl.code == 422)
        }
    }
}
