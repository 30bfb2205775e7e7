import Logging
import Synchronization

/// The plugin port's warnings about its peers, at most one of each kind per interval.
///
/// Every refused call and every connection cut off used to log a line, so anything that could reach
/// the port could also fill AuthPlugin's log (and whatever ships it) at the rate it could connect.
/// The first warning of a kind is logged at once: it is the one an operator needs (a wrong
/// `AUTHPLUGIN_ALLOWED_NETWORKS`, a misbehaving peer). The ones that follow within the interval are
/// only counted, and the next warning logged says how many were left out (`suppressed`). The events
/// themselves are all counted in metrics, whatever the log shows.
///
/// One limit per kind for the whole port, not per peer address: a map of addresses would itself
/// grow with every address an attacker can use.
final class RateLimitedWarnings: Sendable {
    enum Kind: Int, CaseIterable, Sendable {
        case refusedCaller, connectionLimit, controlFrameFlood, resetFlood, protocolAbuse
    }

    private struct Slot {
        var lastLogged: ContinuousClock.Instant?
        var suppressed = 0
    }

    private let interval: Duration
    private let logger: Logger
    private let slots = Mutex([Slot](repeating: Slot(), count: Kind.allCases.count))

    init(interval: Duration, logger: Logger) {
        self.interval = interval
        self.logger = logger
    }

    /// Logs `message` unless a warning of `kind` was logged less than the interval ago.
    func warn(_ kind: Kind, _ message: @autoclosure () -> Logger.Message, metadata: Logger.Metadata, now: ContinuousClock.Instant = .now) {
        guard let suppressed = admit(kind, now: now) else { return }
        var metadata = metadata
        if suppressed > 0 { metadata["suppressed"] = "\(suppressed)" }
        logger.warning(message(), metadata: metadata)
    }

    /// Nil when a warning of `kind` should be left out now (it is counted); otherwise the number left
    /// out since the last one logged.
    func admit(_ kind: Kind, now: ContinuousClock.Instant) -> Int? {
        slots.withLock { slots in
            if let last = slots[kind.rawValue].lastLogged, now - last < interval {
                slots[kind.rawValue].suppressed += 1
                return nil
            }
            defer { slots[kind.rawValue] = Slot(lastLogged: now, suppressed: 0) }
            return slots[kind.rawValue].suppressed
        }
    }
}
