/// Where a live stream reads what its client missed. The Gateway reads it through the user's
/// Tinode session; tests drive `RoomStream` with a history of their own, without sockets.
protocol RoomHistory: Sendable {
    /// The newest seq the stream's live feed will not bring: what the user's session has already
    /// handed to its live feed (anything above comes live to a subscription made before asking).
    func latestSeq() async throws -> Int
    /// Messages with seq in `window`, oldest first.
    func messages(in window: ClosedRange<Int>) async throws -> [ChatMessage]
}

/// The room's history as the user's Tinode session reads it.
struct SessionRoomHistory: RoomHistory {
    let session: TinodeSession

    func latestSeq() async throws -> Int {
        if let seq = await session.lastDeliveredSeq { return seq }
        // The session knows no room seq (no room description yet): the newest message tells.
        return try await session.history(limit: 1).messages.first?.seq ?? 0
    }

    func messages(in window: ClosedRange<Int>) async throws -> [ChatMessage] {
        let page = try await session.history(
            since: window.lowerBound, before: window.upperBound + 1, limit: window.count)
        return page.messages.reversed()
    }
}
