import Foundation

/// A message of a topic as Tinode delivered it (`ServerData`), in the form the Gateway hands on.
public struct ChatMessage: Sendable, Equatable {
    /// The topic as the receiving user names it (`grp...`, `usr...`).
    public var topic: String
    public var seq: Int
    /// The author (`usr...`).
    public var from: String
    public var timestamp: Date
    /// The content as Tinode sent it: JSON bytes (a JSON string for plain text, an object for Drafty).
    public var content: Data
    /// Head values, each JSON bytes (e.g. `mime` = `"text/x-drafty"`).
    public var head: [String: Data]

    public init(topic: String, seq: Int, from: String, timestamp: Date, content: Data, head: [String: Data] = [:]) {
        self.topic = topic
        self.seq = seq
        self.from = from
        self.timestamp = timestamp
        self.content = content
        self.head = head
    }
}

/// What Tinode confirmed for a `pub`.
public struct PublishReceipt: Sendable, Equatable {
    public var topic: String
    public var seq: Int
    /// The message's time as Tinode stored it (from the echoed `data`), or the time the ack arrived
    /// when the echo did not come in time (ctrl messages carry no timestamp on gRPC).
    public var timestamp: Date
}

/// A page of history, newest first.
public struct HistoryPage: Sendable, Equatable {
    public var messages: [ChatMessage]
}

/// An event of the live feed of one user.
public enum LiveEvent: Sendable, Equatable {
    /// A new message in the chat room, delivered once and in `seq` order.
    case message(ChatMessage)
    /// A presence notification (`pres`) on one of the user's topics.
    case presence(topic: String, what: String, source: String, seq: Int)
}
