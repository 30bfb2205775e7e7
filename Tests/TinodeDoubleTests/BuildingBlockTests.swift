import Foundation
import Testing
import TinodeProto

@testable import TinodeDouble

@Suite("Building blocks: Go-style JSON, versions, ids, the outbox")
struct BuildingBlockTests {
    @Test(
        "numbers are written like Go's encoding/json",
        arguments: [
            (1.0, "1"), (1.5, "1.5"), (-0.25, "-0.25"), (100, "100"), (1e20, "100000000000000000000"), (1e21, "1e+21"),
            (0.000001, "0.000001"), (1.5e-7, "1.5e-7"), (1e-10, "1e-10"), (123_456_789_012, "123456789012"),
        ]
    )
    func numbers(value: Double, text: String) {
        #expect(GoJSON.formatNumber(value) == text)
    }

    @Test("times are RFC 3339 in UTC with the fraction's trailing zeros dropped")
    func times() {
        #expect(GoJSON.rfc3339(millis: 1_795_931_643_557) == "2026-11-29T05:54:03.557Z")
        #expect(GoJSON.rfc3339(millis: 1_795_931_643_550) == "2026-11-29T05:54:03.55Z")
        #expect(GoJSON.rfc3339(millis: 1_795_931_643_000) == "2026-11-29T05:54:03Z")
        #expect(GoJSON.rfc3339(millis: 951_782_400_000) == "2000-02-29T00:00:00Z")
    }

    @Test("client JSON is re-encoded compactly, keys sorted, HTML characters escaped; invalid JSON is refused")
    func reencoding() {
        #expect(GoJSON.reencode(Data(#" {"z": [true, null], "a": "\u00e9\n"} "#.utf8)) == Data(#"{"a":"é\n","z":[true,null]}"#.utf8))
        #expect(GoJSON.reencode(Data("\"<&>\u{2028}\"".utf8)) == Data(#""\u003c\u0026\u003e\u2028""#.utf8))
        for invalid in ["", "{", "[1,]", "01", "1e999", "\"\u{01}\"", "nul", "{} {}"] {
            #expect(GoJSON.reencode(Data(invalid.utf8)) == nil, "\(invalid)")
        }
    }

    @Test("versions parse like Tinode's parseVersion")
    func versions() {
        #expect(ClientVersion.parse("0.25") == 25 << 8)
        #expect(ClientVersion.parse("v0.25.3-rc1") == 25 << 8 | 3)
        #expect(ClientVersion.parse("") == 0)
        #expect(ClientVersion.parse("x.y") == 0)
        #expect(!ClientVersion.isSupported(ClientVersion.parse("0.19")))
        #expect(ClientVersion.isSupported(ClientVersion.parse("0.20")))
        #expect(ClientVersion.isSupported(ClientVersion.parse("2")))
    }

    @Test("ids are the URL-safe base64 of the little-endian number, 11 characters")
    func ids() {
        #expect(TinodeID.userName(3_655_264_653_387_585_852) == "usrPFk1-dUbujI")
        #expect(TinodeID.userNumber("usrPFk1-dUbujI") == 3_655_264_653_387_585_852)
        #expect(TinodeID.userNumber("grpPFk1-dUbujI") == nil)
    }

    @Test("an outbox gives up after more than its limit of unsent messages, and refuses everything after")
    func outboxOverflow() {
        let outbox = Outbox(limit: 3)
        for _ in 0..<3 { #expect(outbox.enqueue(Pbx_ServerMsg()) == .queued) }
        #expect(outbox.enqueue(Pbx_ServerMsg()) == .overflowed)
        #expect(outbox.enqueue(Pbx_ServerMsg()) == .refused)
    }

    @Test("an outbox refuses anything after its final message, and held messages do not count toward the limit")
    func outboxFinalAndHeld() {
        let outbox = Outbox(limit: 2)
        for _ in 0..<10 { #expect(outbox.enqueue(Pbx_ServerMsg(), hold: true) == .queued) }
        #expect(outbox.enqueue(Pbx_ServerMsg(), isFinal: true) == .queued)
        #expect(outbox.enqueue(Pbx_ServerMsg()) == .refused)
    }
}
