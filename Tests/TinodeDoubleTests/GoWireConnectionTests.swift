import GRPCCore
import Testing
import TinodeDouble
import TinodeProto

@Suite("The double behaves like Tinode's grpc-go server on the wire")
struct GoWireConnectionTests {
    @Test("grpc-swift's client: each of 50 sequential hi on one stream gets one PING, and every PING is acknowledged")
    func pingPerRequest() async throws {
        try await withDouble { double, connection in
            try double.createUser(login: "pinged", password: "secret1")
            let stream = connection.openStream()
            try await stream.logIn("pinged", "secret1")
            let before = double.wireCounters
            for index in 0..<50 {
                stream.send(ClientMessage.hi("h\(index)"))
                try #require(await stream.nextCtrl()?.code == 201)
            }
            let after = double.wireCounters
            #expect(after.pingsSent - before.pingsSent == 50)
            #expect(after.windowUpdatesSent - before.windowUpdatesSent == 50)
            #expect(await eventually { double.wireCounters.pingAcksReceived == double.wireCounters.pingsSent })
            #expect(after.tooManyPingsGoAways == 0)
        }
    }

    @Test("with .grpcSwift the double sends no PING of its own")
    func noEmulation() async throws {
        var options = TinodeDouble.Options()
        options.wire = .grpcSwift
        try await withDouble(options: options) { double, connection in
            let stream = connection.openStream()
            for index in 0..<20 {
                stream.send(ClientMessage.hi("h\(index)"))
                try #require(await stream.nextCtrl() != nil)
            }
            #expect(double.wireCounters == TinodeDouble.WireCounters())
        }
    }

    @Test("on the wire: after each DATA frame a WINDOW_UPDATE of its length, then a PING; none while one is unanswered")
    func framesOnTheWire() async throws {
        let double = try await TinodeDouble.start()
        let client = try await RawHTTP2Client.connect(port: double.port)
        var seen: [WireFrames.Frame] = []
        do {
            try await client.open()
            try await client.openMessageLoop(stream: 1)
            // One request: the frames up to its reply (a DATA frame with a gRPC message on stream 1).
            func request(_ index: Int, acknowledge: Bool) async throws -> (sent: Int, frames: [WireFrames.Frame]) {
                let sent = try await client.sendMessage(ClientMessage.hi("h\(index)"), stream: 1)
                var frames: [WireFrames.Frame] = []
                while let frame = await client.nextFrame() {
                    frames.append(frame)
                    if frame.type == 6, frame.flags == 0, acknowledge { try await client.send(WireFrames.ping(ack: true, frame.payload)) }
                    if frame.type == 0, frame.stream == 1, !frame.payload.isEmpty { return (sent, frames) }
                }
                throw RawHTTP2Error.closed
            }
            for index in 0..<3 {
                let (sent, frames) = try await request(index, acknowledge: true)
                seen += frames
                let ping = try #require(frames.firstIndex { $0.type == 6 }, "no PING for request \(index): \(frames)")
                #expect(frames[ping] == .init(type: 6, flags: 0, stream: 0, payload: WireFrames.goPingData))
                #expect(ping > 0 && frames[ping - 1] == .init(type: 8, flags: 0, stream: 0, payload: WireFrames.bigEndian(UInt32(sent))))
                #expect(frames.filter { $0.type == 6 }.count == 1)
            }
            // A PING left unanswered: the next requests get none, until the ACK.
            seen += try await request(3, acknowledge: false).frames
            let unanswered = try #require(seen.last { $0.type == 6 })
            for index in 4..<6 {
                let frames = try await request(index, acknowledge: false).frames
                seen += frames
                #expect(!frames.contains { $0.type == 6 }, "a PING while one is unanswered: \(frames)")
            }
            try await client.send(WireFrames.ping(ack: true, unanswered.payload))
            let frames = try await request(6, acknowledge: true).frames
            seen += frames
            #expect(frames.contains { $0.type == 6 })
            #expect(double.wireCounters.pingsSent == 5)
            #expect(await eventually { double.wireCounters.pingAcksReceived == 5 })
        } catch {
            await client.close()
            await double.stop()
            throw error
        }
        // The server's own connection WINDOW_UPDATEs never reach the client: each one it got credits a request.
        // (Five: one before each PING; requests 4 and 5 are credited with request 6.)
        #expect(seen.filter { $0.type == 8 && $0.stream == 0 }.count == 5, "\(seen.filter { $0.type == 8 })")
        await client.close()
        await double.stop()
    }

    @Test("a client that pings more than once a second with no server traffic gets GOAWAY ENHANCE_YOUR_CALM too_many_pings, then the close")
    func tooManyPings() async throws {
        let double = try await TinodeDouble.start()
        let client = try await RawHTTP2Client.connect(port: double.port)
        var goAway: WireFrames.Frame?
        var acks = 0
        do {
            try await client.open()
            // Four PINGs back to back (in one write, so that a busy machine cannot space them out):
            // the second, third and fourth are strikes, and the third strike is one too many.
            try await client.send((0..<4).flatMap { WireFrames.ping(ack: false, [0, 0, 0, 0, 0, 0, 0, UInt8($0)]) })
            while let frame = await client.nextFrame(within: .seconds(5)) {
                if frame.type == 6, frame.flags == 1 { acks += 1 }
                if frame.type == 7 { goAway = frame }
            }
        } catch {
            await client.close()
            await double.stop()
            throw error
        }
        let frame = try #require(goAway, "no GOAWAY")
        #expect(frame.number(at: 0) == 0, "last stream id")
        #expect(frame.number(at: 4) == 0xB, "ENHANCE_YOUR_CALM")
        #expect(Array(frame.payload.dropFirst(8)) == Array("too_many_pings".utf8))
        #expect(client.isClosed, "the connection is still open")
        #expect(acks == 3, "the first three PINGs are acknowledged")
        #expect(double.wireCounters.tooManyPingsGoAways == 1)
        await client.close()
        await double.stop()
    }

    @Test("a client that pings once a second, with or without a stream, keeps its connection")
    func politePings() async throws {
        let double = try await TinodeDouble.start()
        let client = try await RawHTTP2Client.connect(port: double.port)
        var acks = 0
        var goAways = 0
        do {
            try await client.open()
            for index in 0..<4 {
                if index == 2 { try await client.openMessageLoop(stream: 1) }
                try await client.send(WireFrames.ping(ack: false, [0, 0, 0, 0, 0, 0, 1, UInt8(index)]))
                // Every frame that comes in the next second: the ACK, nothing else of note.
                let deadline = ContinuousClock.now + .milliseconds(1_050)
                while true {
                    let left = deadline - ContinuousClock.now
                    guard left > .zero, let frame = await client.nextFrame(within: left) else { break }
                    if frame.type == 6, frame.flags == 1 { acks += 1 }
                    if frame.type == 7 { goAways += 1 }
                }
            }
            // A busy machine may be late with the last ACK.
            while acks < 4, let frame = await client.nextFrame(within: .seconds(5)) {
                if frame.type == 6, frame.flags == 1 { acks += 1 }
                if frame.type == 7 { goAways += 1 }
            }
        } catch {
            await client.close()
            await double.stop()
            throw error
        }
        #expect(acks == 4)
        #expect(goAways == 0)
        #expect(!client.isClosed)
        #expect(double.wireCounters.tooManyPingsGoAways == 0)
        await client.close()
        await double.stop()
    }
}
