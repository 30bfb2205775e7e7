import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A child process of the tests (redis-server, a Python peer, one of the built programs), started
/// with `posix_spawn`.
///
/// Not Foundation's `Process`: on Linux its `run()` walks `/proc/self/fd` to find the descriptors to
/// close in the child and copies each entry's name with a fixed-size read that can run past the end
/// of glibc's buffer, which crashes the whole test process now and then when it holds many
/// descriptors (a parallel run holds well over a thousand; fixed upstream in
/// swift-corelibs-foundation after the toolchain here). Here the child closes everything but its
/// standard streams with glibc's `closefrom` file action, and nothing walks the directory.
public final class ChildProcess: @unchecked Sendable {
    /// What happens to the child's standard output and error.
    public enum Output: Sendable {
        case discard
        /// Read on threads of their own while the child runs, so a chatty child never blocks.
        case capture
    }

    public let pid: pid_t
    private let lock = NSLock()
    private var status: Int32?
    private let stdoutDrain: PipeReader?
    private let stderrDrain: PipeReader?

    /// Starts `executable` (an absolute path) with `arguments` and exactly `environment`; standard
    /// input is `/dev/null`.
    public init(executable: String, arguments: [String], environment: [String: String], output: Output) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        var pipes: [(read: Int32, write: Int32)] = []
        switch output {
        case .discard:
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        case .capture:
            for target in [Int32(1), Int32(2)] {
                var ends: [Int32] = [-1, -1]
                guard pipe(&ends) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
                // This process's ends must not leak into other children spawned meanwhile.
                for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
                pipes.append((ends[0], ends[1]))
                posix_spawn_file_actions_adddup2(&actions, ends[1], target)
            }
        }
        try Self.closeOthers(&actions)
        let argv = ([executable] + arguments).map { strdup($0) }
        let envp = environment.map { strdup("\($0.key)=\($0.value)") }
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var child: pid_t = 0
        let result = posix_spawn(&child, executable, &actions, nil, argv + [nil], envp + [nil])
        for ends in pipes { close(ends.write) }
        guard result == 0 else {
            for ends in pipes { close(ends.read) }
            throw POSIXError(POSIXErrorCode(rawValue: result) ?? .EIO)
        }
        pid = child
        stdoutDrain = pipes.count == 2 ? PipeReader(pipes[0].read) : nil
        stderrDrain = pipes.count == 2 ? PipeReader(pipes[1].read) : nil
    }

    deinit {
        if isRunning { kill(pid, SIGKILL) }
        _ = reap(blocking: true)
    }

    /// Whether the child has not exited yet (reaps it once it has).
    public var isRunning: Bool { reap(blocking: false) == nil }

    /// Blocks until the child exits; returns `terminationStatus`.
    @discardableResult
    public func waitUntilExit() -> Int32 { reap(blocking: true) ?? -1 }

    /// The exit code, or the number of the signal that ended the child (as Foundation's `Process`
    /// reports it); -1 while it runs.
    public var terminationStatus: Int32 { lock.withLock { status } ?? -1 }

    public func signal(_ signal: Int32) {
        guard isRunning else { return }
        kill(pid, signal)
    }

    /// Everything the child wrote to standard output (and error) so far; complete once it exited
    /// and `waitForOutput()` returned.
    public var standardOutput: Data { stdoutDrain?.data ?? Data() }
    public var standardError: Data { stderrDrain?.data ?? Data() }

    /// Waits until both captured streams reached their end (after the child exited).
    public func waitForOutput() {
        stdoutDrain?.waitForEnd()
        stderrDrain?.waitForEnd()
    }

    private func reap(blocking: Bool) -> Int32? {
        lock.withLock {
            if let status { return status }
            var raw: Int32 = 0
            var answer: pid_t
            repeat {
                answer = waitpid(pid, &raw, blocking ? 0 : WNOHANG)
            } while answer == -1 && errno == EINTR
            guard answer == pid else { return nil }
            // The low seven bits are the signal that ended it (0: it exited; then the next byte is the code).
            let signal = raw & 0x7f
            status = signal == 0 ? (raw >> 8) & 0xff : signal
            return status
        }
    }

    /// Every descriptor from 3 up is closed in the child: glibc's `posix_spawn_file_actions_addclosefrom_np`
    /// (2.34 and later; looked up at run time, since the Swift overlay does not declare it).
    private static func closeOthers(_ actions: inout posix_spawn_file_actions_t) throws {
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else {
            throw POSIXError(.ENOSYS)
        }
        let closeFrom = unsafeBitCast(symbol, to: CloseFrom.self)
        let result = closeFrom(&actions, 3)
        guard result == 0 else { throw POSIXError(POSIXErrorCode(rawValue: result) ?? .EIO) }
    }
}

/// Reads a pipe to its end on a thread of its own.
private final class PipeReader: @unchecked Sendable {
    private let lock = NSLock()
    private var bytes = Data()
    private let ended = DispatchSemaphore(value: 0)

    init(_ fd: Int32) {
        Thread.detachNewThread { [self] in
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if count > 0 {
                    lock.withLock { bytes.append(contentsOf: buffer[..<count]) }
                } else if count == 0 || errno != EINTR {
                    break
                }
            }
            close(fd)
            ended.signal()
        }
    }

    var data: Data { lock.withLock { bytes } }

    func waitForEnd() {
        ended.wait()
        ended.signal()
    }
}
