import GRPCCore
import Testing
import TinodeDouble
import TinodeProto

/// The fault tinode-protocol.md section 9 reports from production, reproduced against the double:
/// grpc-go answers every client message with a PING, and the HTTP/2 stack of grpc-swift's client
/// (SwiftNIO: at most 200 PING/SETTINGS/PRIORITY frames per 30 s) takes that for a flood after about
/// 200 requests, sends GOAWAY ENHANCE_YOUR_CALM and closes the connection with every stream on it.
@Suite("grpc-swift's client against Tinode's wire behaviour")
struct GoWireReproductionTests {
    static let requests = 1_000

    /// One stream of grpc-swift's client (default configuration, one connection): logs in, then
    /// sends `{hi}` heartbeats one after the other as fast as the answers come. Returns how many were
    /// answered and how the stream ended, if it did.
    static func heartbeats(wire: TinodeDouble.Wire) async throws -> (
        answered: Int, end: TestStream.Event?, counters: TinodeDouble.WireCounters
    ) {
        var options = TinodeDouble.Options()
        options.wire = wire
        var answered = 0
        var end: TestStream.Event?
        var counters = TinodeDouble.WireCounters()
        try await withDouble(options: options) { double, connection in
            try double.createUser(login: "heartbeat", password: "secret1")
            let stream = connection.openStream()
            try await stream.logIn("heartbeat", "secret1")
            for index in 0..<requests {
                stream.send(ClientMessage.hi("h\(index)"))
                let event = await stream.next()
                guard case .message(let message) = event, case .ctrl(let ctrl) = message.message, ctrl.code == 201 else {
                    end = event
                    break
                }
                answered += 1
            }
            // The client's GOAWAY, if any, has reached the double by the time its stream ended.
            _ = await eventually(within: .seconds(10)) { double.wireCounters.clientEnhanceYourCalmGoAways > 0 }
            counters = double.wireCounters
        }
        return (answered, end, counters)
    }

    @Test("against grpc-go's wire, grpc-swift's client loses its stream before 1,000 fast requests are answered")
    func clientGivesUp() async throws {
        let (answered, end, counters) = try await Self.heartbeats(wire: .grpcGo(keepalivePolicy: .tinodeKeepaliveEnabled))
        #expect(answered < Self.requests, "all \(answered) answered: the double did not reproduce Tinode's PINGs")
        // It went down because of the PINGs: about 200 in 30 s, not one request sooner.
        #expect(answered >= 150, "only \(answered) answered: something else broke the stream")
        #expect(counters.pingsSent >= 190, "\(counters)")
        if case .end(let code) = end {
            #expect(code == .unavailable, "the call ended with \(code.map { "\($0)" } ?? "OK")")
        } else {
            Issue.record("the stream did not end: \(end.map { "\($0)" } ?? "nothing within the timeout")")
        }
        // NIO's own words for it: GOAWAY ENHANCE_YOUR_CALM from the client, seen by the double.
        #expect(counters.clientEnhanceYourCalmGoAways == 1, "\(counters)")
    }

    @Test("against grpc-swift's wire (no PINGs), the same client gets all 1,000 answered")
    func clientCompletes() async throws {
        let (answered, end, counters) = try await Self.heartbeats(wire: .grpcSwift)
        #expect(answered == Self.requests, "\(answered) answered, then \(end.map { "\($0)" } ?? "nothing")")
        #expect(counters.pingsSent == 0)
    }
}
