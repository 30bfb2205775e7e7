import Synchronization

extension TinodeDouble {
    /// Where the double reads "now" for every time it stores, sends or checks (token expiry included).
    public enum TimeSource: Sendable {
        case wallClock
        /// Time stands still until the test moves it. A replay sets it to the moments of the
        /// recording, so that times keep their gaps and second boundaries fall where they fell there:
        /// `if_modified_since` answers depend on them (fixture l).
        case manual(ManualTime)

        func nowMillis() -> Int64 {
            switch self {
            case .wallClock: WallClock.nowMillis()
            case .manual(let time): time.millis
            }
        }
    }

    /// A clock a test sets by hand, in milliseconds since the epoch.
    public final class ManualTime: Sendable {
        private let value: Mutex<Int64>

        public init(millis: Int64) {
            value = Mutex(millis)
        }

        public var millis: Int64 {
            value.withLock { $0 }
        }

        public func set(millis: Int64) {
            value.withLock { $0 = millis }
        }
    }
}
