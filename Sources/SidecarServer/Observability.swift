import Logging
import Metrics
import Prometheus
import Synchronization

/// Process-wide logging and metrics. Both systems can be bootstrapped only once per process, so
/// this type does it once and hands every caller the same Prometheus registry.
public enum Observability {
    /// The registry `/metrics` renders.
    public static let registry = PrometheusCollectorRegistry()
    private static let bootstrapped = Mutex(false)

    /// Sends logs to standard error at `level` and metrics to `registry`. Later calls do nothing.
    public static func bootstrap(logLevel: Logger.Level) {
        let first = bootstrapped.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        LoggingSystem.bootstrap { label in StandardErrorLogHandler(label: label, logLevel: logLevel) }
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
    }
}
