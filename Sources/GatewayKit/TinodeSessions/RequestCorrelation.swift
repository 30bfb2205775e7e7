import TinodeProto

/// Which request each of Tinode's replies belongs to, as a plain value that the session actor runs
/// and tests drive without a stream: request ids, the requests waiting, and what each message
/// completes. Tinode answers out of order, some requests with several messages, and `get data` with
/// `data` messages that carry no id (tinode-protocol.md 3.4, 3.5 and 8; `ReplyExpectation`).
struct RequestCorrelation<Waiter> {
    /// A request whose reply is complete: resume `waiter` with `reply`.
    struct Completion {
        let waiter: Waiter
        let reply: Reply
    }

    private var lastID = 0
    private var pending: [String: PendingRequest<Waiter>] = [:]
    /// The pending `get data` requests: data messages carry no id and go to each of them.
    private var dataPages: Set<String> = []

    /// Requests sent and not answered yet.
    var count: Int { pending.count }

    /// A new request id: unique within the session, whatever stream carries it.
    mutating func nextID() -> String {
        lastID += 1
        return String(lastID)
    }

    /// Waits for the reply to request `id`, sent on stream `generation`.
    mutating func register(_ id: String, kind: String, expectation: ReplyExpectation, generation: Int, waiter: Waiter) {
        pending[id] = PendingRequest(kind: kind, expectation: expectation, generation: generation, waiter: waiter)
        if case .dataPage = expectation { dataPages.insert(id) }
    }

    /// Takes one message of the stream; returns the request it completes, if any. A ctrl or meta
    /// for an id no longer pending (a late reply after a timeout, the second ctrl of a `sub`) is
    /// dropped; data messages are added to every pending page of their topic.
    mutating func receive(_ message: Pbx_ServerMsg) -> Completion? {
        switch message.message {
        case .ctrl(let ctrl): return receive(ctrl: ctrl)
        case .meta(let meta): return receive(meta: meta)
        case .data(let data):
            receive(data: data)
            return nil
        case .pres, .info, .none: return nil
        }
    }

    /// A ctrl with an id (``receive(_:)``).
    mutating func receive(ctrl: Pbx_ServerCtrl) -> Completion? {
        guard var request = pending[ctrl.id] else { return nil }
        return request.accept(ctrl: ctrl) ? finish(ctrl.id, request) : keep(ctrl.id, request)
    }

    /// A meta (``receive(_:)``).
    mutating func receive(meta: Pbx_ServerMeta) -> Completion? {
        guard var request = pending[meta.id] else { return nil }
        return request.accept(meta: meta) ? finish(meta.id, request) : keep(meta.id, request)
    }

    /// A data message: it completes nothing, and costs nothing while no page is pending (the common case).
    mutating func receive(data: Pbx_ServerData) {
        guard !dataPages.isEmpty else { return }
        for id in dataPages { pending[id]?.accept(data: data) }
    }

    /// A ctrl without id (400/403 for a malformed message) cannot be tied to a request: it answers
    /// the one request of stream `generation` that has heard nothing yet, if exactly one has;
    /// otherwise they all run into their timeouts.
    mutating func receiveUnaddressed(_ ctrl: Pbx_ServerCtrl, generation: Int) -> Completion? {
        let silent = pending.filter { !$0.value.heardAnything && $0.value.generation == generation }
        guard silent.count == 1, let (id, request) = silent.first else { return nil }
        var answered = request
        answered.reply.ctrl = ctrl
        return finish(id, answered)
    }

    /// Stops waiting for request `id` (timed out, cancelled, or never sent); nil when it is not
    /// pending any more.
    mutating func remove(_ id: String) -> PendingRequest<Waiter>? {
        dataPages.remove(id)
        return pending.removeValue(forKey: id)
    }

    /// Stops waiting for every request (the stream broke, the session closed).
    mutating func removeAll() -> [Waiter] {
        let waiters = pending.values.map(\.waiter)
        pending.removeAll()
        dataPages.removeAll()
        return waiters
    }

    private mutating func finish(_ id: String, _ request: PendingRequest<Waiter>) -> Completion {
        _ = remove(id)
        return Completion(waiter: request.waiter, reply: request.reply)
    }

    private mutating func keep(_ id: String, _ request: PendingRequest<Waiter>) -> Completion? {
        pending[id] = request
        return nil
    }
}
