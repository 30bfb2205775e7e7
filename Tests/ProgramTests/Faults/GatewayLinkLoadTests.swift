import Foundation
import Testing
import TinodeDouble

extension FaultTests {
    /// Issue 18: the Gateway's HTTP/2 link to Tinode at a steady load, against a double that pings
    /// after every client message like Tinode's grpc-go server and polices the Gateway's own pings.
    /// Before the link was our own, NIO's control-frame rule closed the connection after about 200
    /// requests on it, and every user's stream on it ended.
    @Suite("Gateway link under steady load (real processes, loopback)")
    struct GatewayLinkLoadTests {
        @Test("100 sends/s for 60 s and a history reader: no connection or stream lost, no 503, every send stored once")
        func steadySendsHoldTheLink() async throws {
            let stack = try await GatewayStack.start()
            let users = try await stack.registerUsers(21, prefix: "link-load-")
            let senders = Array(users.prefix(20))
            let reader = users[20]
            try await stack.warmUp(users)
            let pingsBefore = stack.double.wireCounters.pingsSent
            let sends = OutcomeLog()
            let reads = OutcomeLog()
            let flag = StopFlag()
            let started = ContinuousClock.now
            // 20 users, one send every 200 ms each: 100 sends/s, each delivered to the 21 members.
            let sendLoad = Task {
                await pacedLoad(workers: senders.count, interval: .milliseconds(200), until: flag, log: sends) { worker, iteration in
                    await stack.send("ll-\(worker)-\(iteration)", as: senders[worker])
                }
            }
            // One user paging history in a loop (10 pages/s): the case that lost its stream every ~130 pages.
            let readLoad = Task {
                await pacedLoad(workers: 1, interval: .milliseconds(100), until: flag, log: reads) { _, _ in
                    await timedRequest(
                        stack.http, .GET, stack.baseURL + "/v1/messages?limit=50", headers: [("Authorization", "Bearer \(reader.token)")])
                }
            }
            try await Task.sleep(for: .seconds(60))
            flag.stop()
            await sendLoad.value
            await readLoad.value
            let seconds = (ContinuousClock.now - started).seconds
            let pings = stack.double.wireCounters.pingsSent - pingsBefore
            let metrics = await timedRequest(stack.http, .GET, stack.metricsURL).body
            let connectionsLost = metricSum(metrics, "gateway_tinode_connection_closed_total") { !$0.contains("closed_locally") }
            let streamsLost = metricSum(metrics, "gateway_tinode_streams_lost_total")
            let opened = metricSum(metrics, "gateway_tinode_connections_opened_total")

            let allSends = sends.all
            let allReads = reads.all
            #expect(Double(allSends.count) >= 80 * seconds, "only \(allSends.count) sends in \(seconds) s")
            #expect(allSends.allSatisfy { $0.status == 201 }, "sends: \(sends.tally())")
            #expect(allReads.allSatisfy { $0.status == 200 }, "reads: \(reads.tally())")
            #expect(!(allSends + allReads).contains { $0.status == 503 })
            #expect(connectionsLost == 0, "Tinode connections lost: \(connectionsLost)")
            #expect(streamsLost == 0, "Tinode streams lost: \(streamsLost)")
            // The double must have pinged far beyond NIO's old 200 per 30 s per connection, or the test
            // proves nothing.
            #expect(pings > 2_000, "the double sent only \(pings) PINGs")
            let verified = verifyStoredOnce(allSends, stack)
            await stack.shutdown()
            let rate = Double(allSends.count) / seconds
            print(
                "faults gateway-link-load: sends=[\(sends.tally())] reads=[\(reads.tally())] sends_per_s="
                    + String(format: "%.1f", rate) + " tinode_pings=\(pings) connections_opened=\(Int(opened)) "
                    + "connections_lost=\(Int(connectionsLost)) streams_lost=\(Int(streamsLost)) messages_verified=\(verified) "
                    + "seconds=\(Int(seconds))")
        }
    }
}
