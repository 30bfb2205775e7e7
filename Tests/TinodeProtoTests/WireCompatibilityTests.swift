// Wire compatibility of the generated pbx types with Tinode's official Python
// bindings (PyPI `tinode-grpc`).
//
// Both sides build the same sample messages independently: this file with the
// generated Swift types, `pbx_peer.py` next to it with `tinode_grpc`. Then
//   (a) Python encodes, Swift decodes and compares field by field;
//   (b) Swift encodes, Python decodes and compares field by field.
// A wrong field number, type or enum value on either side shows up as a
// mismatch or as unknown fields.
//
// The interpreter comes from PBX_PYTHON (default `python3`) and must be able to
// `import tinode_grpc`; if it cannot, the tests fail (they never skip).

import Foundation
import SwiftProtobuf
import TestSupport
import Testing
import TinodeProto

@Suite("Wire compatibility with tinode-grpc (Python)", .serialized)
struct WireCompatibilityTests {
    @Test("the Python peer runs and can import tinode_grpc")
    func pythonPeerAvailable() async throws {
        let result = try await PythonPeer.run(["check"])
        #expect(result.status == 0, "\(result.description)")
    }

    @Test("Python writes exactly the samples Swift knows")
    func sameSampleNames() async throws {
        let encoded = try await PythonPeer.encodedByPython()
        #expect(Set(encoded.keys) == Set(WireSamples.all.map(\.name)))
    }

    @Test("Swift decodes what tinode-grpc encodes", arguments: WireSamples.all)
    func swiftDecodesPython(sample: WireSample) async throws {
        let encoded = try await PythonPeer.encodedByPython()
        let data = try #require(encoded[sample.name], "Python peer wrote no \(sample.name).bin")
        try sample.verify(data)
    }

    @Test("tinode-grpc decodes what Swift encodes")
    func pythonDecodesSwift() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        for sample in WireSamples.all {
            try sample.serialized().write(to: dir.url.appendingPathComponent("\(sample.name).bin"))
        }
        let result = try await PythonPeer.run(["decode", dir.url.path])
        #expect(result.status == 0, "\(result.description)")
        #expect(result.stdout.contains("\(WireSamples.all.count) passed, 0 failed"), "\(result.description)")
    }

    @Test("the unknown-field detector sees unknown fields in nested messages")
    func unknownFieldDetectorWorks() throws {
        // TopicSub with an extra varint field 30 (tag 0xF0 0x01), nested inside ServerMsg.meta.sub.
        var sub = Pbx_TopicSub()
        try sub.merge(serializedBytes: [0xF0, 0x01, 0x01] as [UInt8])
        let msg = Pbx_ServerMsg.with { $0.meta = .with { $0.sub = [sub] } }
        let decoded = try Pbx_ServerMsg(serializedBytes: try msg.serializedBytes() as [UInt8])
        #expect(try UnknownFieldFinder.paths(in: decoded) == ["4.4"])
        #expect(try UnknownFieldFinder.paths(in: Pbx_ServerMsg()) == [])
    }
}

// MARK: - Sample messages (the Python peer builds the same values)

struct WireSample: Sendable, CustomTestStringConvertible {
    let name: String
    let message: any SwiftProtobuf.Message
    private let verifyDecoded: @Sendable (Data) throws -> Void

    init<M: SwiftProtobuf.Message & Equatable>(_ name: String, _ message: M) {
        self.name = name
        self.message = message
        self.verifyDecoded = { data in
            let decoded = try M(serializedBytes: data)
            let unknown = try UnknownFieldFinder.paths(in: decoded)
            #expect(
                decoded.unknownFields.data.isEmpty && unknown.isEmpty,
                "\(name): unknown fields at field-number paths \(unknown) (wrong field number?)"
            )
            #expect(
                decoded == message,
                """
                \(name) (\(M.protoMessageName)) differs.
                --- built in Swift:
                \(message.textFormatString())
                --- decoded from Python's bytes:
                \(decoded.textFormatString())
                """
            )
        }
    }

    var testDescription: String { name }

    func verify(_ data: Data) throws { try verifyDecoded(data) }

    func serialized() throws -> Data { try message.serializedBytes() }
}

enum WireSamples {
    static let ts: Int64 = 1_764_400_000_123  // ms since epoch
    static let uid = "usrAlice000001"
    static let peer = "usrBob00000001"
    static let grp = "grpChat0000001"
    static let drafty = json("\"text/x-drafty\"")

    static func json(_ text: String) -> Data { Data(text.utf8) }

    static var credEmail: Pbx_ClientCred {
        .with {
            $0.method = "email"
            $0.value = "alice@example.com"
            $0.response = "123456"
            $0.params = ["code": json("\"123456\""), "ttl": json("3600")]
        }
    }

    static var topicDesc: Pbx_TopicDesc {
        .with {
            $0.createdAt = ts - 86_400_000
            $0.updatedAt = ts - 3_600_000
            $0.touchedAt = ts
            $0.defacs = .with {
                $0.auth = "JRWPS"; $0.anon = "N"
            }
            $0.acs = .with {
                $0.want = "JRWPASDO"; $0.given = "JRWPAS"
            }
            $0.seqID = 1234
            $0.readID = 1200
            $0.recvID = 1210
            $0.delID = 5
            $0.public = json(#"{"fn":"Группа 🚀","note":"desc"}"#)
            $0.private = json(#"{"comment":"🔒"}"#)
            $0.state = "ok"
            $0.stateAt = ts - 1
            $0.trusted = json(#"{"verified":true}"#)
            $0.lastSeenTime = ts - 60_000
            $0.lastSeenUserAgent = "Chrome/120 ☃"
            $0.isChan = true
        }
    }

    static var subUser: Pbx_TopicSub {
        .with {
            $0.updatedAt = ts - 10
            $0.deletedAt = ts + 10
            $0.online = true
            $0.acs = .with {
                $0.want = "JRWPS"; $0.given = "JRWP"
            }
            $0.readID = 7
            $0.recvID = 8
            $0.public = json(#"{"fn":"Bob Бобров"}"#)
            $0.private = json(#"{"comment":"friend"}"#)
            $0.userID = peer
            $0.touchedAt = ts - 20
            $0.seqID = 9
            $0.delID = 2
            $0.lastSeenTime = ts - 30
            $0.lastSeenUserAgent = "TinodeWeb/0.25 ü"
            $0.trusted = json(#"{"staff":true}"#)
        }
    }

    static var subTopic: Pbx_TopicSub {
        .with {
            $0.updatedAt = ts - 100
            $0.online = true
            $0.acs = .with {
                $0.want = "JRWPASDO"; $0.given = "JRWPASDO"
            }
            $0.readID = -1
            $0.recvID = 1234
            $0.public = json(#"{"fn":"世界"}"#)
            $0.private = json(#"["a","b"]"#)
            $0.topic = grp
            $0.touchedAt = ts
            $0.seqID = 1234
            $0.delID = 5
        }
    }

    static var serverData: Pbx_ServerData {
        .with {
            $0.topic = grp
            $0.fromUserID = uid
            $0.deletedAt = ts + 5000
            $0.seqID = 17
            $0.head = ["mime": drafty, "replace": json(#"":15""#)]
            $0.content = json(#""Привет 👋""#)
            $0.timestamp = ts
        }
    }

    static let all: [WireSample] = [
        WireSample(
            "client_hi",
            Pbx_ClientMsg.with {
                $0.hi = .with {
                    $0.id = "1001"
                    $0.userAgent = "TinodeSidecar/1.0 (Linux; Swift) ünïcødé"
                    $0.ver = "0.25"
                    $0.deviceID = "dev-ß-42"
                    $0.lang = "de-DE"
                    $0.platform = "web"
                    $0.background = true
                }
            }),
        WireSample(
            "client_login",
            Pbx_ClientMsg.with {
                $0.login = .with {
                    $0.id = "1002"
                    $0.scheme = "basic"
                    // Raw secret bytes, deliberately not valid UTF-8.
                    $0.secret = Data("alice:päss".utf8) + Data([0x00, 0xFF, 0xFE, 0x80])
                    $0.cred = [credEmail]
                }
            }),
        WireSample(
            "client_sub",
            Pbx_ClientMsg.with {
                $0.sub = .with {
                    $0.id = "1003"
                    $0.topic = grp
                    $0.setQuery = .with {
                        $0.desc = .with {
                            $0.defaultAcs = .with {
                                $0.auth = "JRWPS"; $0.anon = "N"
                            }
                            $0.public = json(#"{"fn":"Группа"}"#)
                            $0.private = json(#"{"comment":"mine"}"#)
                            $0.trusted = json(#"{"verified":true}"#)
                        }
                        $0.sub = .with {
                            $0.userID = peer; $0.mode = "JRWPA"
                        }
                        $0.tags = ["email:alice@example.com", "тег"]
                        $0.cred = .with {
                            $0.method = "tel"
                            $0.value = "+15551234567"
                            $0.response = "9876"
                            $0.params = ["lang": json(#""en""#)]
                        }
                    }
                    $0.getQuery = .with {
                        $0.what = "desc sub data"
                        $0.desc = .with {
                            $0.ifModifiedSince = ts
                            $0.user = uid
                            $0.topic = grp
                            $0.sinceID = 1
                            $0.beforeID = 2
                            $0.limit = -7
                        }
                        $0.sub = .with {
                            $0.ifModifiedSince = ts - 1000; $0.user = peer; $0.limit = 50
                        }
                        $0.data = .with {
                            $0.sinceID = 17; $0.beforeID = 42; $0.limit = 24
                        }
                    }
                }
            }),
        WireSample(
            "client_pub",
            Pbx_ClientMsg.with {
                $0.pub = .with {
                    $0.id = "1004"
                    $0.topic = grp
                    $0.noEcho = true
                    $0.head = [
                        "mime": drafty,
                        "reply": json(#""grpChat0000001:17""#),
                        "forwarded": json(#""usrBob00000001:5""#),
                    ]
                    $0.content = json(#"{"txt":"Hello, 世界 👋","fmt":[{"at":0,"len":5,"tp":"ST"}]}"#)
                }
                $0.extra = .with {
                    $0.attachments = ["/v0/file/s/abc.jpg", "/v0/file/s/déf.png"]
                    $0.onBehalfOf = peer
                    $0.authLevel = .root
                }
            }),
        WireSample(
            "client_acc",
            Pbx_ClientMsg.with {
                $0.acc = .with {
                    $0.id = "1005"
                    $0.userID = "new"
                    $0.scheme = "basic"
                    $0.secret =
                        Data("bob:s".utf8) + Data([0xE9]) + Data("cr".utf8) + Data([0xE9]) + Data("t".utf8)
                        + Data([0x01])
                    $0.login = true
                    $0.tags = ["basic:bob", "tel:+15551234567"]
                    $0.desc = .with {
                        $0.defaultAcs = .with {
                            $0.auth = "JRWPAS"; $0.anon = "N"
                        }
                        $0.public = json(#"{"fn":"Bob Бобров","photo":{"type":"jpg"}}"#)
                        $0.private = json(#"{"comment":"x"}"#)
                        $0.trusted = json(#"{"staff":true}"#)
                    }
                    $0.cred = [
                        credEmail,
                        .with {
                            $0.method = "tel"; $0.value = "+15557654321"
                        },
                    ]
                    $0.token = Data([0x01, 0x02]) + Data("tok".utf8) + Data([0xFF])
                    $0.state = "ok"
                    $0.authLevel = .auth
                    $0.tmpScheme = "code"
                    $0.tmpSecret = Data([0x00, 0x01, 0x02, 0xFE])
                }
            }),
        WireSample(
            "client_del",
            Pbx_ClientMsg.with {
                $0.del = .with {
                    $0.id = "1006"
                    $0.topic = "me"
                    $0.what = .user
                    $0.delSeq = [
                        .with {
                            $0.low = 1; $0.hi = 10
                        },
                        .with { $0.low = 15 },
                        .with {
                            $0.low = 20; $0.hi = Int32.max
                        },
                    ]
                    $0.userID = peer
                    $0.cred = .with {
                        $0.method = "email"; $0.value = "bob@example.com"
                    }
                    $0.hard = true
                }
            }),
        WireSample(
            "client_note",
            Pbx_ClientMsg.with {
                $0.note = .with {
                    $0.topic = peer
                    $0.what = .call
                    $0.seqID = 123
                    $0.unread = -1
                    $0.event = .iceCandidate
                    $0.payload = json(#"{"candidate":"candidate:1 1 udp 2122 host","sdpMid":"0"}"#)
                }
            }),
        WireSample(
            "client_leave",
            Pbx_ClientMsg.with {
                $0.leave = .with {
                    $0.id = "1007"; $0.topic = grp; $0.unsub = true
                }
            }),
        WireSample(
            "client_get",
            Pbx_ClientMsg.with {
                $0.get = .with {
                    $0.id = "1008"
                    $0.topic = "me"
                    $0.query = .with {
                        $0.what = "sub tags cred"
                        $0.sub = .with {
                            $0.ifModifiedSince = ts; $0.limit = 100
                        }
                    }
                }
            }),
        WireSample(
            "client_set",
            Pbx_ClientMsg.with {
                $0.set = .with {
                    $0.id = "1009"
                    $0.topic = "me"
                    $0.query = .with {
                        $0.tags = ["alias:ali", "тег"]
                        $0.sub = .with {
                            $0.userID = peer; $0.mode = "JRWP"
                        }
                    }
                }
            }),
        WireSample(
            "server_ctrl",
            Pbx_ServerMsg.with {
                $0.ctrl = .with {
                    $0.id = "1002"
                    $0.topic = "me"
                    $0.code = 200
                    $0.text = "OK"
                    $0.params = [
                        "user": json(#""usrAlice000001""#),
                        "authlvl": json(#""auth""#),
                        "token": json(#""AbCd+/EfGh==""#),
                        "expires": json(#""2026-12-13T08:00:00.123Z""#),
                        "maxMessageSize": json("262144"),
                        "reqCred": json(#"{"auth":["email"]}"#),
                        "cred": json(#"["email","tel"]"#),
                        "nothing": json("null"),
                    ]
                }
                $0.topic = "legacy"  // deprecated field 6, set only to pin its number
            }),
        WireSample("server_data", Pbx_ServerMsg.with { $0.data = serverData }),
        WireSample(
            "server_pres",
            Pbx_ServerMsg.with {
                $0.pres = .with {
                    $0.topic = "me"
                    $0.src = grp
                    $0.what = .msg
                    $0.userAgent = "Tinode/1.0 é"
                    $0.seqID = 18
                    $0.delID = 3
                    $0.delSeq = [
                        .with {
                            $0.low = 4; $0.hi = 7
                        }
                    ]
                    $0.targetUserID = peer
                    $0.actorUserID = uid
                    $0.acs = .with {
                        $0.want = "JRWPS"; $0.given = "JRWP"
                    }
                }
            }),
        WireSample(
            "server_meta",
            Pbx_ServerMsg.with {
                $0.meta = .with {
                    $0.id = "1010"
                    $0.topic = grp
                    $0.desc = topicDesc
                    $0.sub = [subUser, subTopic]
                    $0.del = .with {
                        $0.delID = 5
                        $0.delSeq = [
                            .with {
                                $0.low = 1; $0.hi = 3
                            }, .with { $0.low = 9 },
                        ]
                    }
                    $0.tags = ["tag1", "тег2"]
                    $0.cred = [
                        .with {
                            $0.method = "email"; $0.value = "alice@example.com"; $0.done = true
                        }
                    ]
                }
            }),
        WireSample(
            "server_info",
            Pbx_ServerMsg.with {
                $0.info = .with {
                    $0.topic = peer
                    $0.fromUserID = uid
                    $0.what = .call
                    $0.seqID = 9
                    $0.src = uid
                    $0.event = .ringing
                    $0.payload = json(#"{"sdp":"v=0"}"#)
                }
            }),
        WireSample(
            "client_req",
            Pbx_ClientReq.with {
                $0.msg = .with {
                    $0.pub = .with {
                        $0.id = "1011"
                        $0.topic = grp
                        $0.head = ["mime": drafty]
                        $0.content = json(#""hi 😀""#)
                    }
                }
                $0.sess = .with {
                    $0.sessionID = "sess-😀-01"
                    $0.userID = uid
                    $0.authLevel = .auth
                    $0.remoteAddr = "[::1]:54321"
                    $0.userAgent = "TinodeWeb/0.25 (Firefox; Linux)"
                    $0.deviceID = "device-π"
                    $0.language = "fr-FR"
                }
            }),
        WireSample(
            "server_resp_respond",
            Pbx_ServerResp.with {
                $0.status = .respond
                $0.srvmsg = .with {
                    $0.ctrl = .with {
                        $0.id = "1011"
                        $0.topic = grp
                        $0.code = 403
                        $0.text = "permission denied"
                        $0.params = ["reason": json(#""blocked by plugin ⛔""#)]
                    }
                }
            }),
        WireSample(
            "server_resp_replace",
            Pbx_ServerResp.with {
                $0.status = .replace
                $0.clmsg = .with {
                    $0.pub = .with {
                        $0.id = "1011"
                        $0.topic = grp
                        $0.head = ["mime": json(#""text/plain""#)]
                        $0.content = json(#""[redacted]""#)
                    }
                }
            }),
        WireSample(
            "search_query",
            Pbx_SearchQuery.with {
                $0.userID = uid
                $0.query = "email:alice@example.com имя"
            }),
        WireSample(
            "search_found",
            Pbx_SearchFound.with {
                $0.status = .replace
                $0.query = "email:alice@example.com"
                $0.result = [subUser, subTopic]
            }),
        WireSample(
            "account_event",
            Pbx_AccountEvent.with {
                $0.action = .create  // the zero value: not on the wire at all
                $0.userID = uid
                $0.defaultAcs = .with {
                    $0.auth = "JRWPAS"; $0.anon = "N"
                }
                $0.public = json(#"{"fn":"Alice Älice"}"#)
                $0.tags = ["email:alice@example.com", "basic:alice"]
            }),
        WireSample(
            "account_event_delete",
            Pbx_AccountEvent.with {
                $0.action = .delete
                $0.userID = peer
            }),
        WireSample(
            "topic_event",
            Pbx_TopicEvent.with {
                $0.action = .update
                $0.name = grp
                $0.desc = topicDesc
            }),
        WireSample(
            "subscription_event",
            Pbx_SubscriptionEvent.with {
                $0.action = .delete
                $0.topic = grp
                $0.userID = peer
                $0.delID = 2
                $0.readID = 10
                $0.recvID = 11
                $0.mode = .with {
                    $0.want = "JRWPS"; $0.given = "JRW"
                }
                $0.private = json(#"{"comment":"личное"}"#)
            }),
        WireSample(
            "message_event",
            Pbx_MessageEvent.with {
                $0.action = .update
                $0.msg = serverData
            }),
    ]
}

// MARK: - Unknown fields anywhere in a message tree

/// Collects the field-number path (e.g. "4.4" = field 4 inside field 4) of every
/// message, at any depth, that carries unknown fields.
struct UnknownFieldFinder: SwiftProtobuf.Visitor {
    private var path: [Int] = []
    private(set) var found: [String] = []

    static func paths(in message: some SwiftProtobuf.Message) throws -> [String] {
        var finder = UnknownFieldFinder()
        try message.traverse(visitor: &finder)
        return finder.found
    }

    mutating func visitUnknown(bytes: Data) throws {
        if !bytes.isEmpty { found.append(path.isEmpty ? "<root>" : path.map(String.init).joined(separator: ".")) }
    }

    mutating func visitSingularMessageField<M: SwiftProtobuf.Message>(value: M, fieldNumber: Int) throws {
        path.append(fieldNumber)
        defer { path.removeLast() }
        try value.traverse(visitor: &self)
    }

    mutating func visitMapField<KeyType, ValueType>(
        fieldType: _ProtobufMessageMap<KeyType, ValueType>.Type,
        value: _ProtobufMessageMap<KeyType, ValueType>.BaseType,
        fieldNumber: Int
    ) throws {
        for element in value.values {
            try visitSingularMessageField(value: element, fieldNumber: fieldNumber)
        }
    }

    // Scalars cannot hold unknown fields.
    mutating func visitSingularDoubleField(value: Double, fieldNumber: Int) throws {}
    mutating func visitSingularInt64Field(value: Int64, fieldNumber: Int) throws {}
    mutating func visitSingularUInt64Field(value: UInt64, fieldNumber: Int) throws {}
    mutating func visitSingularBoolField(value: Bool, fieldNumber: Int) throws {}
    mutating func visitSingularStringField(value: String, fieldNumber: Int) throws {}
    mutating func visitSingularBytesField(value: Data, fieldNumber: Int) throws {}
    mutating func visitSingularEnumField<E: SwiftProtobuf.Enum>(value: E, fieldNumber: Int) throws {}
    mutating func visitMapField<KeyType, ValueType: MapValueType>(
        fieldType: _ProtobufMap<KeyType, ValueType>.Type,
        value: _ProtobufMap<KeyType, ValueType>.BaseType,
        fieldNumber: Int
    ) throws {}
    mutating func visitMapField<KeyType, ValueType>(
        fieldType: _ProtobufEnumMap<KeyType, ValueType>.Type,
        value: _ProtobufEnumMap<KeyType, ValueType>.BaseType,
        fieldNumber: Int
    ) throws where ValueType.RawValue == Int {}
}

// MARK: - Running the Python peer

enum PythonPeer {
    static let timeout: Duration = .seconds(60)

    static var script: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("pbx_peer.py")
    }

    /// Bytes written by `pbx_peer.py encode`, by sample name; produced once per test run.
    static func encodedByPython() async throws -> [String: Data] {
        try await encodedOnce.value
    }

    private static let encodedOnce = Task<[String: Data], any Error> {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let result = try await run(["encode", dir.url.path])
        guard result.status == 0 else { throw PeerFailure(description: result.description) }
        var encoded: [String: Data] = [:]
        for file in try FileManager.default.contentsOfDirectory(atPath: dir.url.path) where file.hasSuffix(".bin") {
            encoded[String(file.dropLast(4))] = try Data(contentsOf: dir.url.appendingPathComponent(file))
        }
        return encoded
    }

    struct PeerFailure: Error, CustomStringConvertible {
        let description: String
    }

    /// Runs `PBX_PYTHON pbx_peer.py ARGS...` with a timeout, capturing both output streams.
    static func run(_ arguments: [String]) async throws -> PythonScript.Result {
        try await PythonScript.run(script, arguments: arguments, timeout: timeout)
    }
}

struct TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("pbx-wire-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(at: url) }
}
