import CHiredis
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One blocking hiredis connection.
///
/// `connect`, `send` and `pipeline` block the calling thread, so they only ever run on a thread of the
/// client's `NIOThreadPool`, never on an event loop or the cooperative pool. The connection pool hands a
/// connection to one caller at a time; that exclusivity is what makes `@unchecked Sendable` sound.
/// `abort()` and `isStale` are the exceptions and may be called from any thread.
final class HiredisConnection: @unchecked Sendable {
    private struct CallState {
        var inFlight = false
        var aborted = false
    }

    private let context: UnsafeMutablePointer<redisContext>
    /// Guards the socket against `abort()`: the descriptor stays open while `inFlight` is set, because only
    /// the lease holder frees the context, and only after its call has returned.
    private let callState = Mutex(CallState())
    private var freed = false

    private init(context: UnsafeMutablePointer<redisContext>) {
        self.context = context
    }

    deinit {
        close()
    }

    /// Opens a connection, then authenticates and selects the database as configured.
    ///
    /// - Throws: ``ValkeyError/connectionFailed(reason:)`` when the server cannot be reached within the
    ///   connect timeout, ``ValkeyError/authenticationFailed`` when `AUTH` is refused, and whatever the
    ///   set-up commands fail with otherwise.
    static func connect(_ configuration: ValkeyConfiguration) throws(ValkeyError) -> HiredisConnection {
        let endpoint = "\(configuration.host):\(configuration.port)"
        guard
            let context = redisConnectWithTimeout(
                configuration.host,
                Int32(clamping: configuration.port),
                makeTimeval(configuration.connectTimeout)
            )
        else {
            throw .connectionFailed(reason: "\(endpoint): cannot allocate a hiredis context")
        }
        if context.pointee.err != 0 {
            let reason = Self.errorString(of: context)
            redisFree(context)
            throw .connectionFailed(reason: "\(endpoint): \(reason)")
        }
        // Socket-level send/receive timeouts make every later blocking read return once the command timeout
        // has passed, so a stalled server can never hold a pool thread forever.
        guard redisSetTimeout(context, makeTimeval(configuration.commandTimeout)) == REDIS_OK else {
            let reason = Self.errorString(of: context)
            redisFree(context)
            throw .connectionFailed(reason: "\(endpoint): cannot set socket timeout: \(reason)")
        }
        let connection = HiredisConnection(context: context)
        do throws(ValkeyError) {
            if let password = configuration.password {
                var auth = ["AUTH"]
                if let username = configuration.username { auth.append(username) }
                auth.append(password)
                // Any error reply to AUTH (WRONGPASS, "no password is set", ...) is a credentials problem;
                // the server's text is dropped so that nothing derived from the secret can leak.
                if case .error = try connection.send(auth.map { Array($0.utf8) }) {
                    throw ValkeyError.authenticationFailed
                }
            }
            if configuration.database != 0 {
                let reply = try connection.send([Array("SELECT".utf8), Array(String(configuration.database).utf8)])
                if case .error(let message) = reply {
                    // NOAUTH here means a password is required but none was configured.
                    if message.hasPrefix("NOAUTH") { throw ValkeyError.authenticationFailed }
                    throw ValkeyError.serverError(message: message)
                }
            }
        } catch {
            connection.close()
            throw error
        }
        return connection
    }

    /// Sends one command and returns its reply; an error reply is returned as ``RESPValue/error(_:)``.
    func send(_ arguments: [[UInt8]]) throws(ValkeyError) -> RESPValue {
        try pipeline([arguments])[0]
    }

    /// Writes all commands in one go, then reads one reply per command, in order.
    func pipeline(_ commands: [[[UInt8]]]) throws(ValkeyError) -> [RESPValue] {
        guard !commands.isEmpty, commands.allSatisfy({ !$0.isEmpty }) else {
            throw .protocol(reason: "empty command")
        }
        let started = callState.withLock { state in
            if state.aborted || freed { return false }
            state.inFlight = true
            return true
        }
        guard started else { throw .connectionFailed(reason: "connection was aborted") }
        defer { callState.withLock { $0.inFlight = false } }

        for command in commands {
            let status = Self.withArgv(command) { argc, argv, lengths in
                redisAppendCommandArgv(context, argc, argv, lengths)
            }
            if status != REDIS_OK { throw currentFailure(errno: errno) }
        }
        var replies: [RESPValue] = []
        replies.reserveCapacity(commands.count)
        for _ in commands {
            var raw: UnsafeMutableRawPointer?
            let status = redisGetReply(context, &raw)
            // errno is read at once: later libc calls may overwrite it, and it tells a timeout (EAGAIN) apart.
            let savedErrno = errno
            guard status == REDIS_OK, let raw else { throw currentFailure(errno: savedErrno) }
            defer { freeReplyObject(raw) }
            replies.append(try RESPValue(copying: raw.assumingMemoryBound(to: redisReply.self)))
        }
        return replies
    }

    /// Interrupts a blocking call from another thread (used for task cancellation).
    ///
    /// Shutting the socket down wakes the blocked read at once; the connection is unusable afterwards and
    /// must be discarded. Calling it while no call is running only marks the connection as aborted.
    func abort() {
        callState.withLock { state in
            guard !state.aborted else { return }
            state.aborted = true
            if state.inFlight {
                _ = shutdown(context.pointee.fd, Int32(SHUT_RDWR))
            }
        }
    }

    var wasAborted: Bool {
        callState.withLock { $0.aborted }
    }

    /// Whether an idle connection can no longer be trusted.
    ///
    /// An idle connection must be silent: if its socket is readable, the server closed it (restart,
    /// `CLIENT KILL`, idle timeout) or sent something unsolicited. Checking with a zero-timeout `poll`
    /// before reuse lets the pool reconnect instead of failing the next command, without ever resending a
    /// command that may already have run.
    var isStale: Bool {
        if freed || context.pointee.err != 0 || wasAborted { return true }
        var descriptor = pollfd(fd: context.pointee.fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&descriptor, 1, 0)
        return ready != 0
    }

    /// Frees the hiredis context and closes the socket. Only the lease holder (or the pool, for idle
    /// connections) calls this, never while a call is in flight.
    func close() {
        let shouldFree = callState.withLock { _ in
            if freed { return false }
            freed = true
            return true
        }
        if shouldFree { redisFree(context) }
    }

    private func currentFailure(errno savedErrno: Int32) -> ValkeyError {
        if wasAborted { return .connectionFailed(reason: "connection was aborted") }
        let code = context.pointee.err
        let reason = Self.errorString(of: context)
        if code == REDIS_ERR_IO, savedErrno == EAGAIN || savedErrno == EWOULDBLOCK || reason == Self.timeoutText {
            return .timeout
        }
        if code == REDIS_ERR_PROTOCOL { return .protocol(reason: reason) }
        return .connectionFailed(reason: reason)
    }

    /// hiredis reports a receive timeout as an I/O error carrying `strerror(EAGAIN)`.
    private static let timeoutText = String(cString: strerror(EAGAIN))

    private static func errorString(of context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { raw in
            let bytes = raw.prefix { $0 != 0 }
            return bytes.isEmpty ? "unknown hiredis error" : String(decoding: bytes, as: UTF8.self)
        }
    }

    /// Lays all arguments out in one buffer and passes pointers plus explicit lengths, which keeps
    /// arguments binary-safe (NUL bytes included) without one nested closure per argument.
    private static func withArgv<R>(
        _ arguments: [[UInt8]],
        _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> R
    ) -> R {
        var flat: [UInt8] = []
        flat.reserveCapacity(arguments.reduce(1) { $0 + $1.count })
        var offsets: [Int] = []
        var lengths: [Int] = []
        for argument in arguments {
            offsets.append(flat.count)
            lengths.append(argument.count)
            flat.append(contentsOf: argument)
        }
        flat.append(0)
        return flat.withUnsafeBufferPointer { buffer in
            let base = UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self)
            var argv: [UnsafePointer<CChar>?] = offsets.map { base + $0 }
            return argv.withUnsafeMutableBufferPointer { argvBuffer in
                lengths.withUnsafeBufferPointer { lengthBuffer in
                    body(Int32(arguments.count), argvBuffer.baseAddress!, lengthBuffer.baseAddress!)
                }
            }
        }
    }
}

extension RESPValue {
    /// Copies a hiredis reply (recursively) so that it can be freed right after.
    init(copying reply: UnsafePointer<redisReply>) throws(ValkeyError) {
        let node = reply.pointee
        switch node.type {
        case REDIS_REPLY_STRING:
            self = .bulkString(Self.bytes(node.str, node.len))
        case REDIS_REPLY_STATUS:
            self = .simpleString(String(decoding: Self.bytes(node.str, node.len), as: UTF8.self))
        case REDIS_REPLY_ERROR:
            self = .error(String(decoding: Self.bytes(node.str, node.len), as: UTF8.self))
        case REDIS_REPLY_INTEGER:
            self = .integer(Int64(node.integer))
        case REDIS_REPLY_NIL:
            self = .null
        case REDIS_REPLY_ARRAY:
            var elements: [RESPValue] = []
            elements.reserveCapacity(node.elements)
            for index in 0..<node.elements {
                guard let element = node.element?[index] else {
                    throw .protocol(reason: "array reply with a missing element")
                }
                elements.append(try RESPValue(copying: element))
            }
            self = .array(elements)
        default:
            throw .protocol(reason: "unknown reply type \(node.type)")
        }
    }

    private static func bytes(_ pointer: UnsafeMutablePointer<CChar>?, _ length: Int) -> [UInt8] {
        guard let pointer, length > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: length))
    }
}

/// Converts a duration to the `timeval` hiredis expects (microsecond resolution).
private func makeTimeval(_ duration: Duration) -> timeval {
    let (seconds, attoseconds) = duration.components
    let microseconds = attoseconds / 1_000_000_000_000
    #if canImport(Glibc)
        return Glibc.timeval(tv_sec: Int(seconds), tv_usec: Int(microseconds))
    #else
        return Darwin.timeval(tv_sec: Int(seconds), tv_usec: Int32(microseconds))
    #endif
}
