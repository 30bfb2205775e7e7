import Testing

@Suite("The double answers the recorded flows of a real Tinode v0.25.3")
struct FixtureReplayTests {
    @Test("the recorded transcripts are present")
    func transcriptsArePresent() throws {
        let names = try Fixture.names()
        #expect(names.count >= 14, "expected the flows a to m, found \(names)")
    }

    @Test("each flow replays with the same codes, texts, ids, fields and order", arguments: Fixture.namesOrNone)
    func replay(_ name: String) async throws {
        try await FixtureReplayer.replay(try Fixture.load(name))
    }
}
