import ServiceLifecycle

/// Runs the work that outlives a single request (Tinode streams, reconnect loops, heartbeats) as
/// children of one task group, so that everything the Gateway started ends when this service ends
/// instead of floating free.
public final class BackgroundTasks: Service, Sendable {
    public typealias Work = @Sendable () async -> Void

    private let work: AsyncStream<Work>
    private let submit: AsyncStream<Work>.Continuation

    public init() {
        (work, submit) = AsyncStream.makeStream(of: Work.self)
    }

    /// Starts `work` as a child of `run()`. Work submitted after `run()` ended never runs, so it must
    /// not be something a caller waits for without a timeout.
    public func spawn(_ work: @escaping Work) {
        submit.yield(work)
    }

    /// Runs submitted work until cancelled; cancelling it cancels every child.
    public func run() async {
        await withDiscardingTaskGroup { group in
            for await work in self.work {
                group.addTask { await work() }
            }
        }
    }

    /// Stops accepting work; `run()` returns once the running children are done.
    public func finish() {
        submit.finish()
    }
}
