import NIOCore

/// What grpc-go's HTTP/2 server (Tinode v0.25.3: grpc-go 1.82, default dynamic flow control) does
/// on the wire that a grpc-swift server does not, as rules over the two byte streams of one
/// connection: no socket, no event loop, so tests can drive them directly (`GoWireHandler` puts
/// them on a real connection).
///
/// - A PING per client message: after a client DATA frame, when none of its own PINGs is
///   unanswered, the server credits the connection window (WINDOW_UPDATE on stream 0) and sends a
///   PING (flags 0, 8 bytes) that the client must ACK; the ACK re-arms it. The ACK is consumed here,
///   never passed on (NIO would count it against its control-frame limit).
/// - Its own connection window: the server's stream-0 WINDOW_UPDATEs are dropped and the client's
///   connection window is credited with exactly the bytes of its DATA frames instead (before each
///   PING, and whenever a quarter of the 65,535-byte window is uncredited), as grpc-go does.
/// - Keepalive policing of the client's PINGs ("ping strikes"): a PING with no HEADERS or DATA sent
///   by the server since the client's previous PING, and less than `minTime` after it, is a strike;
///   the third strike ends the connection with GOAWAY ENHANCE_YOUR_CALM "too_many_pings".
///
/// Client bytes go in through `clientSent`, server bytes through `serverSends`. Frames may arrive
/// split across calls or several in one call. Bytes passed on are slices of the input (payloads are
/// never copied); only a split frame header, or a PING ACK or GOAWAY frame split across reads, is
/// gathered into a small buffer.
public struct GoWireRules: Sendable {
    /// What to do with bytes the client sent.
    public enum Inbound: Sendable, Equatable {
        /// Pass these bytes on to the server's HTTP/2 handler, unchanged.
        case forward(ByteBuffer)
        /// Write these frames to the client (made up by the rules).
        case toClient(ByteBuffer, Injection)
        /// The client acknowledged the rules' PING (the ACK is not passed on).
        case pingAcked
        /// The client sent GOAWAY with this error code (the frame is passed on as well).
        case clientGoAway(errorCode: UInt32)
        /// Close the connection (after writing what came before).
        case close
    }

    /// Frames the rules write to the client.
    public enum Injection: Sendable, Equatable {
        /// A connection-level WINDOW_UPDATE alone (a quarter of the window was uncredited).
        case windowUpdate(increment: Int)
        /// A connection-level WINDOW_UPDATE then a PING (after a DATA frame, none outstanding).
        case windowUpdateAndPing(increment: Int)
        /// GOAWAY ENHANCE_YOUR_CALM "too_many_pings"; a `.close` follows.
        case tooManyPings(lastStreamID: UInt32)
    }

    /// What to write of bytes the server is writing.
    public enum Outbound: Sendable, Equatable {
        /// Bytes of this write, unchanged.
        case write(ByteBuffer)
        /// A frame header split across writes, held back until complete, now passed on.
        case writeHeld(ByteBuffer)
        /// A frame header split across writes, held back until complete, then dropped.
        case dropHeld
    }

    /// What happened so far on this connection.
    public struct Tally: Sendable, Equatable {
        public var pingsSent = 0
        public var pingAcksReceived = 0
        public var windowUpdatesSent = 0
        /// Bytes credited to the client's connection window.
        public var bytesCredited = 0
        /// The server's own stream-0 WINDOW_UPDATEs that were dropped.
        public var serverWindowUpdatesDropped = 0
        public var tooManyPingsGoAways = 0
        public var pingStrikes = 0

        public init() {}
    }

    /// The payload of every PING these rules send (grpc-go's BDP ping carries these 8 bytes).
    public static let pingData: UInt64 = 0x0204_1010_090E_0707
    /// The client's connection window as grpc-go leaves it (the HTTP/2 default).
    static let connectionWindow = 65_535
    /// grpc-go's `maxPingStrikes`: the third strike ends the connection.
    static let maxPingStrikes = 2

    public private(set) var tally = Tally()
    /// True once the rules have ended the connection; later client bytes are ignored.
    public private(set) var closed = false

    private let minPingInterval: TimeAmount
    private let permitWithoutStream: Bool
    private let allocator: ByteBufferAllocator

    // Client to server.
    private var prefaceLeft = 24
    private var inbound = Phase.header
    private var inboundHeld: ByteBuffer
    // Server to client.
    private var outbound = Phase.header
    private var outboundHeld: ByteBuffer

    // Flow control and BDP pings.
    private var pingOutstanding = false
    private var uncredited = 0

    // Keepalive policing.
    private var lastClientPing: NIODeadline?
    private var serverWroteSinceClientPing = false
    private var highestClientStream: UInt32 = 0
    /// Streams the server has not finished: only followed when pings without a stream are policed.
    private var activeStreams: Set<UInt32> = []

    private enum Phase: Sendable {
        case header
        /// Inside a frame whose bytes pass (or, outbound, are dropped) as they come.
        case payload(type: UInt8, length: Int, left: Int, dropping: Bool)
        /// Gathering a whole frame (inbound PING ACK or GOAWAY) to decide on it.
        case whole(FrameHeader)
    }

    public init(
        keepalive: TinodeDouble.KeepalivePolicy = .tinodeKeepaliveEnabled, allocator: ByteBufferAllocator = ByteBufferAllocator()
    ) {
        minPingInterval = TimeAmount(keepalive.minTime)
        permitWithoutStream = keepalive.permitWithoutStream
        self.allocator = allocator
        inboundHeld = allocator.buffer(capacity: 0)
        outboundHeld = allocator.buffer(capacity: 0)
    }

    /// True while the server is in the middle of writing a frame: frames of the rules' own must wait.
    public var isInsideServerFrame: Bool {
        if outboundHeld.readableBytes > 0 { return true }
        if case .header = outbound { return false }
        return true
    }

    // MARK: - Client to server

    /// Bytes the client sent, at `now`: appends what to do with them to `actions`.
    public mutating func clientSent(_ input: ByteBuffer, at now: NIODeadline, into actions: inout [Inbound]) {
        guard !closed else { return }
        // ByteBuffer slices only reach readable bytes, so the buffer stays as it is and `at` walks
        // it: input[run..<at] passes on unchanged, as one slice.
        var at = input.readerIndex
        var run = at
        let end = input.writerIndex
        while at < end, !closed {
            if prefaceLeft > 0 {
                let count = min(prefaceLeft, end - at)
                at += count
                prefaceLeft -= count
                continue
            }
            switch inbound {
            case .payload(let type, let length, let left, _):
                let count = min(left, end - at)
                at += count
                if count == left {
                    inbound = .header
                    clientFrameEnded(type: type, length: length, into: &actions)
                } else {
                    inbound = .payload(type: type, length: length, left: left - count, dropping: false)
                }
            case .whole(let header):
                Self.pass(input, from: &run, to: at, into: &actions)
                let count = min(FrameHeader.size + header.length - inboundHeld.readableBytes, end - at)
                inboundHeld.writeImmutableBuffer(input.getSlice(at: at, length: count)!)
                at += count
                run = at
                finishWholeFrameIfGathered(header, at: now, into: &actions)
            case .header:
                if inboundHeld.readableBytes == 0, end - at >= FrameHeader.size {
                    let header = FrameHeader(input, at: at)
                    if header.isDecidedWhole {
                        let size = FrameHeader.size + header.length
                        guard end - at >= size else {
                            // Gather the rest of it.
                            Self.pass(input, from: &run, to: at, into: &actions)
                            inboundHeld = allocator.buffer(capacity: size)
                            inboundHeld.writeImmutableBuffer(input.getSlice(at: at, length: end - at)!)
                            at = end
                            run = at
                            inbound = .whole(header)
                            continue
                        }
                        if !clientWholeFrame(header, input.getSlice(at: at, length: size)!, into: &actions) {
                            Self.pass(input, from: &run, to: at, into: &actions)
                            run = at + size
                        }
                        at += size
                    } else if clientFrameStarts(header, at: now) {
                        at += FrameHeader.size
                        enterInboundPayload(header, into: &actions)
                    } else {
                        Self.pass(input, from: &run, to: at, into: &actions)
                        endConnection(into: &actions)
                    }
                } else {
                    // A frame header split across reads: gather its 9 bytes first.
                    Self.pass(input, from: &run, to: at, into: &actions)
                    if inboundHeld.readableBytes == 0 { inboundHeld = allocator.buffer(capacity: FrameHeader.size) }
                    let count = min(FrameHeader.size - inboundHeld.readableBytes, end - at)
                    inboundHeld.writeImmutableBuffer(input.getSlice(at: at, length: count)!)
                    at += count
                    run = at
                    guard inboundHeld.readableBytes == FrameHeader.size else { continue }
                    let header = FrameHeader(inboundHeld, at: inboundHeld.readerIndex)
                    if header.isDecidedWhole {
                        inbound = .whole(header)
                        finishWholeFrameIfGathered(header, at: now, into: &actions)
                    } else if clientFrameStarts(header, at: now) {
                        actions.append(.forward(inboundHeld))
                        inboundHeld = allocator.buffer(capacity: 0)
                        enterInboundPayload(header, into: &actions)
                    } else {
                        endConnection(into: &actions)
                    }
                }
            }
        }
        if !closed { Self.pass(input, from: &run, to: at, into: &actions) }
    }

    private static func pass(_ input: ByteBuffer, from run: inout Int, to at: Int, into actions: inout [Inbound]) {
        if at > run { actions.append(.forward(input.getSlice(at: run, length: at - run)!)) }
        run = at
    }

    private mutating func enterInboundPayload(_ header: FrameHeader, into actions: inout [Inbound]) {
        if header.length == 0 {
            inbound = .header
            clientFrameEnded(type: header.type, length: 0, into: &actions)
        } else {
            inbound = .payload(type: header.type, length: header.length, left: header.length, dropping: false)
        }
    }

    private mutating func finishWholeFrameIfGathered(_ header: FrameHeader, at now: NIODeadline, into actions: inout [Inbound]) {
        guard inboundHeld.readableBytes == FrameHeader.size + header.length else { return }
        let frame = inboundHeld
        inboundHeld = allocator.buffer(capacity: 0)
        inbound = .header
        if clientWholeFrame(header, frame, into: &actions) { actions.append(.forward(frame)) }
    }

    /// A PING ACK or GOAWAY from the client, whole: true to pass it on.
    private mutating func clientWholeFrame(_ header: FrameHeader, _ frame: ByteBuffer, into actions: inout [Inbound]) -> Bool {
        let payload = frame.readerIndex + FrameHeader.size
        switch header.type {
        case FrameType.ping:
            guard header.length == 8, frame.getInteger(at: payload, as: UInt64.self) == Self.pingData else { return true }
            pingOutstanding = false
            tally.pingAcksReceived += 1
            actions.append(.pingAcked)
            return false
        default:
            if header.length >= 8, let code = frame.getInteger(at: payload + 4, as: UInt32.self) {
                actions.append(.clientGoAway(errorCode: code))
            }
            return true
        }
    }

    /// A client frame's header (not a PING ACK or GOAWAY): false when it breaks the ping policy.
    private mutating func clientFrameStarts(_ header: FrameHeader, at now: NIODeadline) -> Bool {
        switch header.type {
        case FrameType.headers:
            if header.streamID & 1 == 1, header.streamID > highestClientStream {
                highestClientStream = header.streamID
                if !permitWithoutStream { activeStreams.insert(header.streamID) }
            }
        case FrameType.rstStream:
            if !permitWithoutStream { activeStreams.remove(header.streamID) }
        case FrameType.ping:
            return clientPinged(at: now)
        default:
            break
        }
        return true
    }

    /// grpc-go's `handlePing` for a client PING: false on the strike too many.
    private mutating func clientPinged(at now: NIODeadline) -> Bool {
        defer { lastClientPing = now }
        if serverWroteSinceClientPing {
            serverWroteSinceClientPing = false
            tally.pingStrikes = 0
            return true
        }
        // Without a stream and without permission, grpc-go allows one ping per 2 hours.
        let interval = !permitWithoutStream && activeStreams.isEmpty ? TimeAmount.hours(2) : minPingInterval
        if let last = lastClientPing, last + interval > now { tally.pingStrikes += 1 }
        return tally.pingStrikes <= Self.maxPingStrikes
    }

    private mutating func clientFrameEnded(type: UInt8, length: Int, into actions: inout [Inbound]) {
        guard type == FrameType.data, length > 0 else { return }
        uncredited += length
        if !pingOutstanding {
            var frames = allocator.buffer(capacity: 2 * FrameHeader.size + 12)
            Self.writeWindowUpdate(uncredited, into: &frames)
            FrameHeader(length: 8, type: FrameType.ping, flags: 0, streamID: 0).write(into: &frames)
            frames.writeInteger(Self.pingData)
            actions.append(.toClient(frames, .windowUpdateAndPing(increment: uncredited)))
            pingOutstanding = true
            tally.pingsSent += 1
        } else if uncredited >= Self.connectionWindow / 4 {
            var frame = allocator.buffer(capacity: FrameHeader.size + 4)
            Self.writeWindowUpdate(uncredited, into: &frame)
            actions.append(.toClient(frame, .windowUpdate(increment: uncredited)))
        } else {
            return
        }
        tally.windowUpdatesSent += 1
        tally.bytesCredited += uncredited
        uncredited = 0
    }

    private static func writeWindowUpdate(_ increment: Int, into buffer: inout ByteBuffer) {
        FrameHeader(length: 4, type: FrameType.windowUpdate, flags: 0, streamID: 0).write(into: &buffer)
        buffer.writeInteger(UInt32(increment))
    }

    private mutating func endConnection(into actions: inout [Inbound]) {
        let debug = "too_many_pings"
        var frame = allocator.buffer(capacity: FrameHeader.size + 8 + debug.utf8.count)
        FrameHeader(length: 8 + debug.utf8.count, type: FrameType.goAway, flags: 0, streamID: 0).write(into: &frame)
        frame.writeInteger(highestClientStream)
        frame.writeInteger(UInt32(0xB))  // ENHANCE_YOUR_CALM
        frame.writeString(debug)
        actions.append(.toClient(frame, .tooManyPings(lastStreamID: highestClientStream)))
        actions.append(.close)
        tally.tooManyPingsGoAways += 1
        closed = true
    }

    // MARK: - Server to client

    /// Bytes the server is writing: appends what to write to `pieces`. Returns true when the end of
    /// `bytes` is held back (a frame header split across writes); it comes out of a later call as
    /// `.writeHeld` or `.dropHeld`.
    public mutating func serverSends(_ input: ByteBuffer, into pieces: inout [Outbound]) -> Bool {
        var at = input.readerIndex
        var run = at
        let end = input.writerIndex
        while at < end {
            switch outbound {
            case .payload(let type, let length, let left, let dropping):
                let count = min(left, end - at)
                if dropping { Self.pass(input, from: &run, to: at, into: &pieces) }
                at += count
                if dropping { run = at }
                outbound = count == left ? .header : .payload(type: type, length: length, left: left - count, dropping: dropping)
            case .header, .whole:
                if outboundHeld.readableBytes == 0, end - at >= FrameHeader.size {
                    let header = FrameHeader(input, at: at)
                    let drop = serverFrameStarts(header)
                    if drop { Self.pass(input, from: &run, to: at, into: &pieces) }
                    at += FrameHeader.size
                    if drop { run = at }
                    enterOutboundPayload(header, dropping: drop)
                } else {
                    Self.pass(input, from: &run, to: at, into: &pieces)
                    if outboundHeld.readableBytes == 0 { outboundHeld = allocator.buffer(capacity: FrameHeader.size) }
                    let count = min(FrameHeader.size - outboundHeld.readableBytes, end - at)
                    outboundHeld.writeImmutableBuffer(input.getSlice(at: at, length: count)!)
                    at += count
                    run = at
                    guard outboundHeld.readableBytes == FrameHeader.size else { continue }
                    let header = FrameHeader(outboundHeld, at: outboundHeld.readerIndex)
                    let drop = serverFrameStarts(header)
                    pieces.append(drop ? .dropHeld : .writeHeld(outboundHeld))
                    outboundHeld = allocator.buffer(capacity: 0)
                    enterOutboundPayload(header, dropping: drop)
                }
            }
        }
        Self.pass(input, from: &run, to: at, into: &pieces)
        return outboundHeld.readableBytes > 0
    }

    private static func pass(_ input: ByteBuffer, from run: inout Int, to at: Int, into pieces: inout [Outbound]) {
        if at > run { pieces.append(.write(input.getSlice(at: run, length: at - run)!)) }
        run = at
    }

    private mutating func enterOutboundPayload(_ header: FrameHeader, dropping: Bool) {
        outbound =
            header.length == 0
            ? .header : .payload(type: header.type, length: header.length, left: header.length, dropping: dropping)
    }

    /// A server frame's header: true to drop the frame.
    private mutating func serverFrameStarts(_ header: FrameHeader) -> Bool {
        switch header.type {
        case FrameType.windowUpdate where header.streamID == 0:
            tally.serverWindowUpdatesDropped += 1
            return true
        case FrameType.headers, FrameType.data:
            serverWroteSinceClientPing = true
            if !permitWithoutStream, header.flags & 0x1 != 0 { activeStreams.remove(header.streamID) }
        case FrameType.rstStream:
            if !permitWithoutStream { activeStreams.remove(header.streamID) }
        default:
            break
        }
        return false
    }
}

/// HTTP/2 frame types (RFC 9113, section 6).
enum FrameType {
    static let data: UInt8 = 0x0
    static let headers: UInt8 = 0x1
    static let rstStream: UInt8 = 0x3
    static let settings: UInt8 = 0x4
    static let ping: UInt8 = 0x6
    static let goAway: UInt8 = 0x7
    static let windowUpdate: UInt8 = 0x8
}

/// The 9 bytes before every HTTP/2 frame: 24-bit length, type, flags, reserved bit and 31-bit stream.
struct FrameHeader: Sendable, Equatable {
    static let size = 9
    /// A GOAWAY longer than this (debug data) passes without being looked at.
    static let largestGatheredGoAway = 1_024

    var length: Int
    var type: UInt8
    var flags: UInt8
    var streamID: UInt32

    init(length: Int, type: UInt8, flags: UInt8, streamID: UInt32) {
        self.length = length
        self.type = type
        self.flags = flags
        self.streamID = streamID
    }

    /// Reads the header at `index`; the buffer must hold 9 bytes there.
    init(_ buffer: ByteBuffer, at index: Int) {
        let lengthAndType = buffer.getInteger(at: index, as: UInt32.self)!
        length = Int(lengthAndType >> 8)
        type = UInt8(truncatingIfNeeded: lengthAndType)
        flags = buffer.getInteger(at: index + 4, as: UInt8.self)!
        streamID = buffer.getInteger(at: index + 5, as: UInt32.self)! & 0x7FFF_FFFF
    }

    /// Client frames the rules look at whole: PING ACKs (theirs are dropped) and GOAWAYs. A
    /// malformed one (a PING of another length) passes as it comes, for the HTTP/2 handler to refuse.
    var isDecidedWhole: Bool {
        (type == FrameType.ping && flags & 0x1 != 0 && length == 8)
            || (type == FrameType.goAway && length <= Self.largestGatheredGoAway)
    }

    func write(into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt32(length) << 8 | UInt32(type))
        buffer.writeInteger(flags)
        buffer.writeInteger(streamID)
    }
}
