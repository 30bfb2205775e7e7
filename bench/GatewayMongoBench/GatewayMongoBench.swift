import Foundation
import GRPCNIOTransportHTTP2
import GatewayKit
import Logging
import MongoReader
import MongoTestSupport
import TinodeDouble

/// bench/gateway-mongo.sh: one 50-message history page read through MongoDB (the reader, with its
/// access checks and the BSON -> JSON walk) beside the same page read through the protocol path (a
/// logged-in Tinode session's `{get what:"data"}` against the Tinode double), on the same data, in
/// the same run, alternating. Needs MONGO_TEST_URL.
@main
struct GatewayMongoBench {
    static func main() async throws {
        guard let url = TestMongoDatabase.url else {
            print("SKIPPED: MONGO_TEST_URL is not set (no MongoDB server on this machine); nothing was measured")
            return
        }
        let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
        let rounds = arguments.first ?? 3
        let requests = arguments.dropFirst().first ?? 200
        let pageSize = 50
        var logger = Logger(label: "bench")
        logger.logLevel = .error

        let double = try await TinodeDouble.start()
        let owner = try double.createUser(login: "benchowner", password: "bench-owner-pw", name: "Owner")
        let room = double.createGroup(owner: owner, name: "general", tags: ["room:general"])
        var settings = TinodeSessionSettings()
        settings.roomTopic = room
        settings.requestTimeout = .seconds(30)
        let connector = TinodeLink(options: .init(host: "127.0.0.1", port: double.port), logger: logger)
        let pool = TinodeSessionPool(connector: connector, settings: settings, poolSettings: .init(), logger: logger)
        let services = Task {
            await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await connector.run() }
                group.addTask { try await pool.run() }
                _ = try? await group.next()
                group.cancelAll()
            }
        }
        let (session, identity) = try await pool.logIn(
            .register(login: "benchreader", password: "bench-reader-pw", name: "Reader", email: "reader@bench.test"))
        for index in 1...200 {
            let content =
                index % 3 == 0
                ? #"{"txt":"message \#(index) with bold","fmt":[{"at":8,"len":4,"tp":"ST"}],"ent":[]}"#
                : #""plain message \#(index), some text to make it a realistic length""#
            try double.publish(asUser: identity.userID, topic: room, content: Data(content.utf8))
        }

        let database = try TestMongoDatabase(url: url)
        defer { database.drop() }
        let messages = double.messages(inTopic: room).map {
            MirroredMessage(
                seq: $0.seq, from: $0.from, timestampMilliseconds: Int64(($0.timestamp.timeIntervalSince1970 * 1000).rounded()),
                content: $0.content, head: $0.head)
        }
        try TinodeMirror.write(
            room: room, users: [MirroredUser(userID: identity.userID, login: "benchreader", name: "Reader")], messages: messages,
            into: database)
        let reader = try TinodeStoreReader(settings: database.readerSettings())
        let user = TinodeUserID(clientForm: identity.userID)!

        func viaProtocol() async throws -> Int { try await session.history(before: nil, limit: pageSize).messages.count }
        func viaMongo() async throws -> Int {
            guard case .page(let page) = try await reader.history(of: room, for: user, before: nil, limit: pageSize) else { return 0 }
            return page.count
        }
        // Both must answer the full page, or the comparison means nothing.
        let (a, b) = (try await viaProtocol(), try await viaMongo())
        guard a == pageSize, b == pageSize else {
            print("page sizes differ: protocol \(a), mongo \(b)")
            return
        }
        for _ in 0..<50 {
            _ = try await viaProtocol()
            _ = try await viaMongo()
        }
        print(
            "# \(ProcessInfo.processInfo.activeProcessorCount) cores; \(rounds) rounds of \(requests) sequential \(pageSize)-message pages each, alternating"
        )
        var protocolMedians: [Double] = []
        var mongoMedians: [Double] = []
        for round in 1...rounds {
            var protocolTimes: [Double] = []
            var mongoTimes: [Double] = []
            for _ in 0..<requests {
                var started = ContinuousClock.now
                _ = try await viaProtocol()
                protocolTimes.append(milliseconds(ContinuousClock.now - started))
                started = ContinuousClock.now
                _ = try await viaMongo()
                mongoTimes.append(milliseconds(ContinuousClock.now - started))
            }
            let p = summary(protocolTimes)
            let m = summary(mongoTimes)
            protocolMedians.append(p.median)
            mongoMedians.append(m.median)
            print(
                String(
                    format: "round %d: protocol p50=%.3f ms p99=%.3f ms | mongo p50=%.3f ms p99=%.3f ms", round, p.median, p.p99, m.median,
                    m.p99))
        }
        let protocolMedian = protocolMedians.sorted()[protocolMedians.count / 2]
        let mongoMedian = mongoMedians.sorted()[mongoMedians.count / 2]
        print(
            String(
                format: "history_page_50_ms protocol=%.3f mongo=%.3f ratio(mongo/protocol)=%.2f", protocolMedian, mongoMedian,
                mongoMedian / protocolMedian))
        await reader.shutdown()
        await pool.drain()
        services.cancel()
        _ = await services.value
        await double.stop()
    }

    static func milliseconds(_ elapsed: Duration) -> Double {
        Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
    }

    static func summary(_ times: [Double]) -> (median: Double, p99: Double) {
        let sorted = times.sorted()
        return (sorted[sorted.count / 2], sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.99))])
    }
}
