import NIOCore
import NIOPosix
import Synchronization

/// Runs libmongoc's blocking calls on threads of their own, never on an event loop or the Swift
/// concurrency pool, and gives each job a deadline: the awaiting request is answered when the
/// deadline passes even if the thread is still inside libmongoc (whose own timeouts then end it).
/// A job still queued when its deadline passes is skipped, so an outage cannot build up a backlog.
final class BlockingExecutor: Sendable {
    private let threads: NIOThreadPool
    private let timers: any EventLoop

    init(threadCount: Int) {
        threads = NIOThreadPool(numberOfThreads: max(1, threadCount))
        threads.start()
        timers = MultiThreadedEventLoopGroup.singleton.any()
    }

    /// `work` on a pool thread; throws `MongoReaderError.deadlineExceeded` after `deadline`.
    func run<T: Sendable>(deadline: Duration, _ work: @escaping @Sendable () throws(MongoReaderError) -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let answer = SingleAnswer(continuation)
            let timer = timers.scheduleTask(
                in: .nanoseconds(
                    Int64(clamping: deadline.components.seconds * 1_000_000_000 + deadline.components.attoseconds / 1_000_000_000))
            ) {
                answer.give(.failure(MongoReaderError.deadlineExceeded))
            }
            threads.submit { state in
                guard state == .active else {
                    timer.cancel()
                    answer.give(.failure(MongoReaderError.closed))
                    return
                }
                guard !answer.isGiven else { return }
                let result: Result<T, any Error>
                do {
                    result = .success(try work())
                } catch {
                    result = .failure(error)
                }
                timer.cancel()
                answer.give(result)
            }
        }
    }

    func shutdown() async {
        try? await threads.shutdownGracefully()
    }
}

/// Resumes a continuation once: the first of the job and the deadline wins.
private final class SingleAnswer<T: Sendable>: Sendable {
    private let continuation: Mutex<CheckedContinuation<T, any Error>?>

    init(_ continuation: CheckedContinuation<T, any Error>) {
        self.continuation = Mutex(continuation)
    }

    var isGiven: Bool { continuation.withLock { $0 == nil } }

    func give(_ result: Result<T, any Error>) {
        continuation.withLock { $0.take() }?.resume(with: result)
    }
}
