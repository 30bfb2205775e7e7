import Foundation
import Testing

@testable import GatewayKit

@Suite("API timestamps")
struct TimestampsTests {
    @Test("milliseconds, UTC; read back, a timestamp writes the same text (an idempotent retry's answer equals the first)")
    func roundTrip() throws {
        #expect(Timestamps.text(Date(timeIntervalSince1970: 1_765_146_468.0425)) == "2025-12-07T22:27:48.043Z")
        #expect(Timestamps.text(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
        #expect(Timestamps.text(Date(timeIntervalSince1970: -0.001)) == "1969-12-31T23:59:59.999Z")
        #expect(Timestamps.date("2026-12-07T22:27:48Z") == Date(timeIntervalSince1970: 1_796_682_468))
        #expect(Timestamps.date("yesterday") == nil)
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<10_000 {
            let date = Date(timeIntervalSince1970: Double.random(in: 0..<4_000_000_000, using: &generator))
            let text = Timestamps.text(date)
            let back = try #require(Timestamps.date(text))
            #expect(Timestamps.text(back) == text)
            #expect(abs(back.timeIntervalSince(date)) <= 0.0005 + 1e-6)
        }
    }
}
