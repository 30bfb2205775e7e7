import Testing

@testable import GatewayKit

@Suite("Replay plans, Last-Event-ID and the per-user stream quota")
struct ReplayPlanTests {
    @Test("a client that missed no more than the limit gets everything after its id, in windows of the page size")
    func withinLimit() {
        let plan = ReplayPlan(resumeAfter: 10, latest: 130, maxReplay: 1000)
        #expect(plan.reset == nil)
        #expect(plan.firstSeq == 11)
        #expect(plan.windows(pageSize: 50) == [11...60, 61...110, 111...130])
    }

    @Test("a client that missed more than the limit gets a reset and the newest `limit` seqs")
    func beyondLimit() {
        let plan = ReplayPlan(resumeAfter: 0, latest: 1234, maxReplay: 1000)
        #expect(plan.reset == ReplayReset(fromSeq: 235, lastEventID: 0, latestSeq: 1234))
        let windows = plan.windows(pageSize: 50)
        #expect(windows.first == 235...284)
        #expect(windows.last == 1185...1234)
        #expect(windows.reduce(0) { $0 + $1.count } == 1000)
        #expect(windows.allSatisfy { $0.count <= 50 })
        // Exactly at the limit: no reset.
        #expect(ReplayPlan(resumeAfter: 234, latest: 1234, maxReplay: 1000).reset == nil)
        #expect(ReplayPlan(resumeAfter: 233, latest: 1234, maxReplay: 1000).reset?.fromSeq == 235)
    }

    @Test("nothing to replay: up to date, ahead of this instance, or a limit of 0")
    func nothingToReplay() {
        #expect(ReplayPlan(resumeAfter: 40, latest: 40, maxReplay: 1000).windows(pageSize: 50).isEmpty)
        #expect(ReplayPlan(resumeAfter: 41, latest: 40, maxReplay: 1000).windows(pageSize: 50).isEmpty)
        #expect(ReplayPlan(resumeAfter: 41, latest: 40, maxReplay: 1000).reset == nil)
        let none = ReplayPlan(resumeAfter: 3, latest: 40, maxReplay: 0)
        #expect(none.reset == ReplayReset(fromSeq: 41, lastEventID: 3, latestSeq: 40))
        #expect(none.windows(pageSize: 50).isEmpty)
    }

    @Test("Last-Event-ID: seqs 0 to 2^31-1 are taken, absent or empty means none, anything else is 400")
    func lastEventID() throws {
        #expect(try LastEventID.parse(nil, field: "Last-Event-ID") == nil)
        #expect(try LastEventID.parse("", field: "Last-Event-ID") == nil)
        #expect(try LastEventID.parse("  ", field: "Last-Event-ID") == nil)
        #expect(try LastEventID.parse("0", field: "Last-Event-ID") == 0)
        #expect(try LastEventID.parse(" 42 ", field: "Last-Event-ID") == 42)
        #expect(try LastEventID.parse("2147483647", field: "Last-Event-ID") == 2_147_483_647)
        for bad in ["-1", "abc", "1.5", "+3", "0x10", "1e3", "2147483648", "99999999999999999999999", "٣"] {
            let error = #expect(throws: APIError.self, "\(bad)") { try LastEventID.parse(bad, field: "last_event_id") }
            #expect(error?.code == "invalid_request")
            #expect(error?.status == .badRequest)
            #expect(error?.message.contains("last_event_id") == true)
        }
    }

    @Test("the quota counts each user's streams apart and frees a place once per lease")
    func quota() {
        let quota = StreamQuota()
        let first = quota.acquire(user: "usrA", limit: 2)
        let second = quota.acquire(user: "usrA", limit: 2)
        #expect(first != nil && second != nil)
        #expect(quota.acquire(user: "usrA", limit: 2) == nil)
        #expect(quota.acquire(user: "usrB", limit: 2) != nil)  // another user is not affected
        #expect(quota.count(user: "usrA") == 2)
        first?.release()
        first?.release()  // once only
        #expect(quota.count(user: "usrA") == 1)
        #expect(quota.acquire(user: "usrA", limit: 2) != nil)  // dropped at once: released by deinit
        #expect(quota.count(user: "usrA") == 1)
        withExtendedLifetime(second) {}
    }
}
