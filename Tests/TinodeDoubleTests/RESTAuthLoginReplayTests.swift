import Testing

/// The logins of shared/fixtures/rest-auth replayed against the double and a scripted REST-auth
/// server. Scenarios 01 and 04 to 09 (`rtagns` at start, `{acc}` with scheme rest, `/upd`, `/del`)
/// are left out: the double does not model those calls (TinodeDouble.RESTAuth).
@Suite("The double's rest logins against the recorded REST-auth scenarios")
struct RESTAuthLoginReplayTests {
    static let loginScenarios: [String] = ((try? RESTAuthFixture.names()) ?? []).filter { name in
        Int(name.prefix(2)).map { (10...27).contains($0) } == true
    }

    @Test("the recorded scenarios are present")
    func scenariosArePresent() throws {
        let names = try RESTAuthFixture.names()
        #expect(names.contains { $0.hasPrefix("02-") } && names.contains { $0.hasPrefix("03-") })
        #expect(Self.loginScenarios.count == 18)
    }

    @Test("02 then 03: a new user is created and linked, then logs in as a known user")
    func newThenKnownUser() async throws {
        let names = try RESTAuthFixture.names()
        let scenarios = try ["02-", "03-"].map { prefix in
            try RESTAuthFixture.load(try #require(names.first { $0.hasPrefix(prefix) }))
        }
        try await RESTAuthFixtureReplayer.replay(RESTAuthFixture.sequence(scenarios))
    }

    @Test("each failed login answers as recorded", arguments: loginScenarios)
    func failedLogin(_ name: String) async throws {
        try await RESTAuthFixtureReplayer.replay(try RESTAuthFixture.load(name))
    }
}
