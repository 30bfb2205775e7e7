import NIOCore
import Testing
import TinodeDouble

/// Drives `GoWireRules` without a socket: client bytes in, server bytes out, time by hand.
struct RulesHarness {
    var rules: GoWireRules
    var now = NIODeadline.uptimeNanoseconds(3_600_000_000_000)
    /// Client bytes passed on to the server, in order.
    var forwarded: [UInt8] = []
    /// Frames the rules wrote to the client, in order.
    var toClient: [UInt8] = []
    var injections: [GoWireRules.Injection] = []
    var acks = 0
    var clientGoAways: [UInt32] = []
    var closeRequested = false
    /// Server bytes that reached the socket, and whether the end of the last write was held back.
    var written: [UInt8] = []
    var holdsTail = false
    var heldDropped = 0

    init(keepalive: TinodeDouble.KeepalivePolicy = .tinodeKeepaliveEnabled, preface: Bool = true) {
        rules = GoWireRules(keepalive: keepalive)
        if preface { client(WireFrames.preface + WireFrames.settings()) }
    }

    /// Feeds `bytes` as the client sent them, `chunk` bytes per read (all at once when nil).
    mutating func client(_ bytes: [UInt8], chunk: Int? = nil) {
        for piece in Self.pieces(of: bytes, chunk: chunk) {
            var actions: [GoWireRules.Inbound] = []
            rules.clientSent(Self.buffer(piece), at: now, into: &actions)
            for action in actions {
                switch action {
                case .forward(let buffer): forwarded += buffer.bytes
                case .toClient(let buffer, let injection):
                    toClient += buffer.bytes
                    injections.append(injection)
                case .pingAcked: acks += 1
                case .clientGoAway(let code): clientGoAways.append(code)
                case .close: closeRequested = true
                }
            }
        }
    }

    /// Feeds `bytes` as the server writes them, `chunk` bytes per write.
    mutating func server(_ bytes: [UInt8], chunk: Int? = nil) {
        for piece in Self.pieces(of: bytes, chunk: chunk) {
            var pieces: [GoWireRules.Outbound] = []
            holdsTail = rules.serverSends(Self.buffer(piece), into: &pieces)
            for piece in pieces {
                switch piece {
                case .write(let buffer), .writeHeld(let buffer): written += buffer.bytes
                case .dropHeld: heldDropped += 1
                }
            }
        }
    }

    mutating func wait(_ duration: Duration) {
        now = now + TimeAmount(duration)
    }

    /// The frames the rules wrote to the client so far.
    var clientFrames: [WireFrames.Frame] {
        var bytes = toClient
        return WireFrames.parse(&bytes)
    }

    static func pieces(of bytes: [UInt8], chunk: Int?) -> [ArraySlice<UInt8>] {
        let size = max(chunk ?? bytes.count, 1)
        return stride(from: 0, to: bytes.count, by: size).map { bytes[$0..<min($0 + size, bytes.count)] }
    }

    /// A buffer whose readable bytes do not start at index 0, as NIO's reads often are.
    static func buffer(_ bytes: ArraySlice<UInt8>) -> ByteBuffer {
        var buffer = ByteBuffer(bytes: [0xEE, 0xEE, 0xEE])
        buffer.moveReaderIndex(forwardBy: 3)
        buffer.writeBytes(bytes)
        return buffer
    }
}

@Suite("grpc-go's wire rules, without a socket")
struct GoWireRulesTests {
    static let goPing = WireFrames.ping(ack: true, WireFrames.goPingData)
    static let opening = WireFrames.preface + WireFrames.settings()

    @Test("a DATA frame gets a WINDOW_UPDATE of its length then a PING; none while it is unanswered; the ACK re-arms")
    func pingPerDataFrame() {
        var wire = RulesHarness()
        wire.client(WireFrames.headers(stream: 1) + WireFrames.data(stream: 1, count: 20))
        #expect(wire.injections == [.windowUpdateAndPing(increment: 20)])
        #expect(
            wire.clientFrames == [
                .init(type: 8, flags: 0, stream: 0, payload: WireFrames.bigEndian(20)),
                .init(type: 6, flags: 0, stream: 0, payload: WireFrames.goPingData),
            ])

        wire.client(WireFrames.data(stream: 1, count: 30))
        wire.client(WireFrames.data(stream: 1, count: 5))
        #expect(wire.injections.count == 1, "a PING while the first is unanswered: \(wire.injections)")

        wire.client(Self.goPing)
        #expect(wire.acks == 1)
        wire.client(WireFrames.data(stream: 1, count: 10))
        #expect(wire.injections == [.windowUpdateAndPing(increment: 20), .windowUpdateAndPing(increment: 45)])
        #expect(wire.rules.tally.pingsSent == 2)

        // Everything but the ACK of the rules' own PING reached the server.
        let expected =
            Self.opening + WireFrames.headers(stream: 1) + WireFrames.data(stream: 1, count: 20)
            + WireFrames.data(stream: 1, count: 30) + WireFrames.data(stream: 1, count: 5) + WireFrames.data(stream: 1, count: 10)
        #expect(wire.forwarded == expected)
    }

    @Test("empty DATA frames (a bare END_STREAM) earn no PING and no credit")
    func emptyData() {
        var wire = RulesHarness()
        wire.client(WireFrames.headers(stream: 1) + WireFrames.data(stream: 1, count: 0, endStream: true))
        #expect(wire.injections.isEmpty)
    }

    @Test("credits add up to the DATA bytes; a quarter window uncredited is credited without a PING")
    func creditEqualsData() {
        var wire = RulesHarness()
        let sizes = [16_384, 100, 7, 16_384, 16_384, 3, 9_000, 1, 16_384, 250]
        wire.client(WireFrames.headers(stream: 1))
        for (index, size) in sizes.enumerated() {
            wire.client(WireFrames.data(stream: 1, count: size))
            if index % 4 == 3 { wire.client(Self.goPing) }
        }
        wire.client(Self.goPing)
        wire.client(WireFrames.data(stream: 1, count: 1))
        let credited = wire.clientFrames.filter { $0.type == 8 }.map { Int($0.number(at: 0)) }
        #expect(credited.reduce(0, +) == sizes.reduce(0, +) + 1)
        #expect(wire.rules.tally.bytesCredited == sizes.reduce(0, +) + 1)
        // While a PING was unanswered, 100 + 7 + 16,384 bytes (over a quarter of 65,535) were credited
        // without one.
        #expect(wire.injections.contains(.windowUpdate(increment: 16_491)))
        #expect(wire.clientFrames.allSatisfy { $0.stream == 0 && ($0.type == 8 || $0.type == 6) })
    }

    @Test("the client's own PINGs, ACKs of other PINGs, and GOAWAYs pass on")
    func foreignFramesPass() {
        var wire = RulesHarness()
        let frames =
            WireFrames.ping(ack: true, [9, 9, 9, 9, 9, 9, 9, 9]) + WireFrames.ping()
            + WireFrames.goAway(lastStream: 0, code: 0xB, debug: "too_many_pings")
        wire.client(frames)
        #expect(wire.forwarded == Self.opening + frames)
        #expect(wire.acks == 0)
        #expect(wire.clientGoAways == [0xB])
    }

    @Test("pings less than 1 s apart with no server traffic: three strikes, then GOAWAY ENHANCE_YOUR_CALM too_many_pings")
    func tooManyPings() {
        var wire = RulesHarness()
        wire.client(WireFrames.headers(stream: 1) + WireFrames.headers(stream: 3))
        for _ in 0..<3 {
            wire.client(WireFrames.ping())
            wire.wait(.milliseconds(300))
        }
        #expect(wire.rules.tally.pingStrikes == 2)
        #expect(!wire.closeRequested)
        let before = wire.forwarded
        wire.client(WireFrames.ping() + WireFrames.data(stream: 3, count: 10))
        #expect(wire.closeRequested)
        #expect(wire.rules.closed)
        #expect(wire.injections == [.tooManyPings(lastStreamID: 3)])
        #expect(
            wire.clientFrames == [
                .init(
                    type: 7, flags: 0, stream: 0,
                    payload: WireFrames.bigEndian(3) + WireFrames.bigEndian(0xB) + Array("too_many_pings".utf8))
            ])
        // Neither the offending PING nor anything after it reaches the server.
        #expect(wire.forwarded == before)
        wire.client(WireFrames.ping())
        #expect(wire.forwarded == before)
    }

    @Test("pings exactly 1 s apart, or slower, earn no strike")
    func politePings() {
        var wire = RulesHarness()
        for index in 0..<20 {
            wire.client(WireFrames.ping())
            wire.wait(index % 2 == 0 ? .seconds(1) : .seconds(3))
        }
        #expect(wire.rules.tally.pingStrikes == 0)
        #expect(!wire.closeRequested)
        #expect(wire.forwarded.count == Self.opening.count + 20 * 17)
    }

    @Test("HEADERS or DATA written by the server reset the strikes at the next client PING")
    func serverTrafficResetsStrikes() {
        var wire = RulesHarness()
        wire.client(WireFrames.headers(stream: 1) + WireFrames.ping())
        for round in 0..<5 {
            // Two strikes a round, then the server answers something.
            for _ in 0..<2 {
                wire.client(WireFrames.ping())
                wire.wait(.milliseconds(10))
            }
            #expect(wire.rules.tally.pingStrikes == 2)
            wire.server(round % 2 == 0 ? WireFrames.headers(stream: 1) : WireFrames.data(stream: 1, count: 4))
            wire.client(WireFrames.ping())
            #expect(wire.rules.tally.pingStrikes == 0)
        }
        #expect(!wire.closeRequested)
        // Other server frames do not count as traffic.
        wire.server(WireFrames.settings(ack: true) + WireFrames.ping(ack: true) + WireFrames.windowUpdate(stream: 1, increment: 9))
        for _ in 0..<3 { wire.client(WireFrames.ping()) }
        #expect(wire.closeRequested)
    }

    @Test("keepalive disabled: 5 minutes with a stream open, 2 hours without one")
    func keepaliveDisabled() {
        var withStream = RulesHarness(keepalive: .tinodeKeepaliveDisabled)
        withStream.client(WireFrames.headers(stream: 1))
        for _ in 0..<6 {
            withStream.client(WireFrames.ping())
            withStream.wait(.seconds(300))
        }
        #expect(withStream.rules.tally.pingStrikes == 0)
        #expect(!withStream.closeRequested)
        for _ in 0..<4 {
            withStream.client(WireFrames.ping())
            withStream.wait(.seconds(240))
        }
        #expect(withStream.closeRequested)

        // Once the server has finished the stream, 10-minute pings are strikes.
        var finished = RulesHarness(keepalive: .tinodeKeepaliveDisabled)
        finished.client(WireFrames.headers(stream: 1))
        finished.server(WireFrames.headers(stream: 1) + WireFrames.headers(stream: 1, endStream: true))
        finished.client(WireFrames.ping())
        for _ in 0..<3 {
            finished.wait(.seconds(600))
            finished.client(WireFrames.ping())
        }
        #expect(finished.closeRequested)

        var enabled = RulesHarness(keepalive: .tinodeKeepaliveEnabled)
        for _ in 0..<4 {
            enabled.client(WireFrames.ping())
            enabled.wait(.seconds(600))
        }
        #expect(!enabled.closeRequested)
    }

    static let chunkSizes = [1, 2, 3, 5, 8, 9, 10, 16, 17, 18, 31, 100, 4_000, 1_000_000]

    @Test("client frames split across reads or many in one read: the same bytes pass, the same frames are made", arguments: chunkSizes)
    func splitClientFrames(chunk: Int) {
        let stream =
            WireFrames.preface + WireFrames.settings() + WireFrames.headers(stream: 1) + WireFrames.data(stream: 1, count: 300)
            + WireFrames.settings(ack: true) + Self.goPing + WireFrames.data(stream: 1, count: 20_000)
            + WireFrames.ping(ack: true, [1, 1, 1, 1, 1, 1, 1, 1]) + WireFrames.headers(stream: 3) + WireFrames.data(stream: 3, count: 0)
            + WireFrames.goAway(lastStream: 2, code: 0xB, debug: "x") + Self.goPing + WireFrames.data(stream: 3, count: 9, endStream: true)
            + WireFrames.rstStream(stream: 1)
        var whole = RulesHarness(preface: false)
        whole.client(stream)
        var split = RulesHarness(preface: false)
        split.client(stream, chunk: chunk)

        let expected =
            WireFrames.preface + WireFrames.settings() + WireFrames.headers(stream: 1) + WireFrames.data(stream: 1, count: 300)
            + WireFrames.settings(ack: true) + WireFrames.data(stream: 1, count: 20_000)
            + WireFrames.ping(ack: true, [1, 1, 1, 1, 1, 1, 1, 1]) + WireFrames.headers(stream: 3) + WireFrames.data(stream: 3, count: 0)
            + WireFrames.goAway(lastStream: 2, code: 0xB, debug: "x") + WireFrames.data(stream: 3, count: 9, endStream: true)
            + WireFrames.rstStream(stream: 1)
        #expect(split.forwarded == expected)
        #expect(whole.forwarded == expected)
        #expect(
            split.injections == [
                .windowUpdateAndPing(increment: 300), .windowUpdateAndPing(increment: 20_000), .windowUpdateAndPing(increment: 9),
            ])
        #expect(split.injections == whole.injections)
        #expect(split.acks == 2)
        #expect(split.clientGoAways == [0xB])
    }

    @Test("the server's connection WINDOW_UPDATEs are dropped, however its writes split the frames", arguments: chunkSizes)
    func serverWindowUpdatesDropped(chunk: Int) {
        let kept1 = WireFrames.settings() + WireFrames.settings(ack: true) + WireFrames.headers(stream: 1)
        let kept2 = WireFrames.windowUpdate(stream: 1, increment: 500) + WireFrames.data(stream: 1, count: 17_000)
        let kept3 = WireFrames.data(stream: 1, count: 0, endStream: true) + WireFrames.ping(ack: true)
        let stream =
            kept1 + WireFrames.windowUpdate(increment: 65_535) + kept2 + WireFrames.windowUpdate(increment: 1)
            + WireFrames.windowUpdate(increment: 2) + kept3 + WireFrames.windowUpdate(increment: 3)
        var wire = RulesHarness()
        wire.server(stream, chunk: chunk)
        #expect(wire.written == kept1 + kept2 + kept3)
        #expect(wire.rules.tally.serverWindowUpdatesDropped == 4)
        #expect(!wire.holdsTail)
        #expect(!wire.rules.isInsideServerFrame)
    }

    @Test("the rules know when the server is in the middle of a frame")
    func insideServerFrame() {
        var wire = RulesHarness()
        let frame = WireFrames.data(stream: 1, count: 10)
        wire.server(Array(frame[0..<4]))
        #expect(wire.holdsTail)
        #expect(wire.rules.isInsideServerFrame)
        wire.server(Array(frame[4..<12]))
        #expect(!wire.holdsTail)
        #expect(wire.rules.isInsideServerFrame)
        wire.server(Array(frame[12...]))
        #expect(!wire.rules.isInsideServerFrame)
        #expect(wire.written == frame)
    }
}
