import Foundation

/// Setting up state without going through the protocol, and looking at it afterwards.
extension TinodeDouble {
    /// A message as stored, for inspection.
    public struct StoredMessage: Sendable {
        public var seq: Int
        /// The author's `usr...` id.
        public var from: String
        /// The JSON bytes as received (subscribers get Tinode's re-encoding; invalid JSON was stored as null).
        public var content: Data
        public var head: [String: Data]
        public var timestamp: Date
    }

    /// Creates a basic account under the same rules as `{acc}`; returns its `usr...` id.
    @discardableResult
    public func createUser(login: String, password: String, name: String? = nil, email: String? = nil, root: Bool = false) throws -> String
    {
        let now = world.now()
        let login = login.lowercased()
        return try world.state.withLock { state throws(TinodeDoubleError) -> String in
            let options = state.options
            guard BasicLoginPolicy.isAcceptable(login: login, minLength: options.minLoginLength),
                login.unicodeScalars.count <= options.maxStoredLoginLength
            else { throw .invalidLogin(login) }
            guard state.userIDsByLogin[login] == nil else { throw .duplicateLogin(login) }
            guard BasicLoginPolicy.isAcceptable(password: password, minLength: options.minPasswordLength) else { throw .passwordTooShort }
            return state.addUser(login: login, password: password, now: now) { record in
                record.isRoot = root
                if let name { record.publicJSON = GoJSON.object([("fn", GoJSON.string(name))]) }
                if let email { record.credentials = [CredentialRecord(method: "email", value: email)] }
            }
        }
    }

    /// Gives an existing user root rights, like `tinode-db -make_root` (fixture h2). Their next
    /// login reports `authlvl` "root".
    public func makeRoot(user uid: String) throws {
        try world.state.withLock { state throws(TinodeDoubleError) in
            guard state.users[uid] != nil else { throw .unknownUser(uid) }
            state.users[uid]!.isRoot = true
        }
    }

    /// The `usr...` id behind a basic login, if any.
    public func userID(login: String) -> String? {
        world.state.withLock { $0.userIDsByLogin[login.lowercased()] }
    }

    /// Creates a group owned by `owner` (full access JRWPASDO), public `{"fn": name}`, default
    /// access auth JRWP / anon N; returns its `grp...` name.
    public func createGroup(owner: String, name: String, tags: [String]) -> String {
        let now = world.now()
        return world.state.withLock { state in
            state.createGroupRecord(
                owner: owner, now: now, publicJSON: GoJSON.object([("fn", GoJSON.string(name))]), defaultAccess: nil,
                tags: Tags.normalize(tags))
        }
    }

    /// The topic's history, seq ascending; empty for an unknown topic.
    public func messages(inTopic topic: String) -> [StoredMessage] {
        world.state.withLock { state in
            (state.topics[topic]?.messages ?? []).map { record in
                StoredMessage(
                    seq: record.seq, from: record.from, content: record.receivedContent, head: record.receivedHead,
                    timestamp: Date(timeIntervalSince1970: Double(record.timestamp) / 1000))
            }
        }
    }

    /// Publishes as `uid` without a stream: stored, sent as `data` to every session attached to the
    /// topic and as `pres MSG` on `me` to members who are not. Returns the seq.
    @discardableResult
    public func publish(asUser uid: String, topic: String, content: Data) throws -> Int {
        let now = world.now()
        return try world.state.withLock { state throws(TinodeDoubleError) -> Int in
            guard let user = state.users[uid], !user.isDeleted else { throw .unknownUser(uid) }
            guard state.topics[topic] != nil else { throw .unknownTopic(topic) }
            let seq = state.store(in: topic, from: uid, content: content, head: [:], now: now)
            state.fanOut(seq, in: topic, echo: true, publisher: nil, nil)
            state.settle(now: now)
            return seq
        }
    }

    /// Open `MessageLoop` calls, half-dead ones included.
    public var openStreamCount: Int {
        world.state.withLock { $0.sessions.count }
    }

    /// Open calls logged in as `uid`, half-dead ones included.
    public func openStreamCount(user uid: String) -> Int {
        world.state.withLock { $0.sessionIDsByUser[uid]?.count ?? 0 }
    }

    /// Client messages received so far, by the name of their `oneof` field ("hi", "login", "sub",
    /// "pub", "get", "leave", "acc", "set", "del", "note"; "" for empty messages).
    public func receivedCount(kind: String) -> Int {
        world.state.withLock { $0.receivedCounts[kind] ?? 0 }
    }
}
