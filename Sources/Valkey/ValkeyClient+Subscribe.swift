import Logging
import NIOCore

extension ValkeyClient {
    /// Listens to one pub/sub channel until the calling task is cancelled: `received` gets the
    /// payload of every message, `subscribed` is called after each (re)subscription.
    ///
    /// Pub/sub delivers to whoever is subscribed at that moment and keeps nothing, so whatever was
    /// published while the connection was down is lost: `subscribed` is where a caller catches up
    /// (re-reads what the messages would have told it). The subscription has a connection of its
    /// own, opened again after a pause (`retryInterval`, doubling up to ten times that) whenever it
    /// breaks, and pinged every `heartbeatInterval`: a ping without an answer within the command
    /// timeout counts as a broken connection, because a half-open TCP connection would otherwise
    /// look like a quiet channel for ever.
    public func subscribe(
        to channel: String, retryInterval: Duration = .seconds(1), heartbeatInterval: Duration = .seconds(3),
        received: @escaping @Sendable ([UInt8]) -> Void, subscribed: @escaping @Sendable () async -> Void
    ) async {
        var pause = retryInterval
        while !Task.isCancelled {
            do {
                try await listenOnce(to: channel, heartbeatInterval: heartbeatInterval, received: received) {
                    pause = retryInterval
                    await subscribed()
                }
            } catch is CancellationError {
                return
            } catch {
                logger.info("Valkey subscription lost; subscribing again", metadata: ["channel": "\(channel)", "error": "\(error)"])
            }
            guard (try? await Task.sleep(for: pause)) != nil else { return }
            pause = min(pause * 2, retryInterval * 10)
        }
    }

    /// One connection's life: subscribe, then ping until something fails. Never returns normally.
    private func listenOnce(
        to channel: String, heartbeatInterval: Duration, received: @escaping @Sendable ([UInt8]) -> Void,
        subscribed: () async -> Void
    ) async throws {
        let connection = try await ValkeyConnection.connect(
            configuration, on: eventLoopGroup.next(),
            onPush: { message in
                // ["message", channel, payload]
                guard case .array(let parts) = message, parts.count == 3, case .bulkString(let payload) = parts[2] else { return }
                received(payload)
            })
        defer { connection.close() }
        connection.reserve()
        let replies = try await connection.send([[Array("SUBSCRIBE".utf8), Array(channel.utf8)]], timeout: configuration.commandTimeout)
        guard case .array = replies[0] else { throw ValkeyError.protocol(reason: "unexpected reply to SUBSCRIBE") }
        await subscribed()
        while true {
            try await Task.sleep(for: heartbeatInterval)
            connection.reserve()
            _ = try await connection.send([[Array("PING".utf8)]], timeout: configuration.commandTimeout)
        }
    }
}
