import Testing
import TinodeDouble

@Suite("Capacity")
struct CapacityTests {
    @Test("hundreds of streams stay open at once on one connection (HTTP/2's usual limit is 100)")
    func manyStreams() async throws {
        try await withDouble { double, connection in
            let streams = (0..<500).map { _ in connection.openStream() }
            for stream in streams { stream.send(ClientMessage.hi()) }
            // One failure is enough: the streams behind it would each wait out the timeout.
            for stream in streams { try #require(await stream.nextCtrl(within: .seconds(10))?.code == 201) }
            #expect(double.openStreamCount == 500)
            for stream in streams { stream.halfClose() }
            for stream in streams { try #require(await stream.nextEnd(within: .seconds(10)) == .some(nil)) }
            #expect(await eventually { double.openStreamCount == 0 })
        }
    }
}
