import Foundation
import TestSupport
import Testing
import Valkey

@testable import SidecarCore

/// Revocation notices: their wire form, hostile messages on the channel, and delivery through a
/// real redis-server (including after the subscription's connection is killed).
@Suite("Revocation notices", .timeLimit(.minutes(1)))
struct RevocationNoticeTests {
    @Test("a notice survives its wire form; malformed or oversized messages are no notice")
    func wireForm() {
        let notice = RevocationNotice(userID: "usrAbCdEfGhIjK", familyID: "fam-1")
        #expect(RevocationNotice(decoding: notice.encoded()) == notice)
        #expect(RevocationNotice(decoding: RevocationNotice(userID: "usrX").encoded()) == RevocationNotice(userID: "usrX"))
        for hostile in [
            "", "null", "[]", #"{"user":42}"#, #"{"user":"admin"}"#, #"{"user":"usrX","login":""}"#,
            #"{"user":"usr\#(String(repeating: "x", count: 100))"}"#, #"{"user":"usrX","pad":"\#(String(repeating: "y", count: 600))"}"#,
        ] {
            #expect(RevocationNotice(decoding: Array(hostile.utf8)) == nil, "\(hostile)")
        }
    }

    @Test("notices published by one client reach a listener; after its connection is killed it subscribes again and hears the next")
    func deliveryAndResubscription() async throws {
        // A server of its own: killing its pub/sub connections must not disturb other tests.
        try await withRedisServer { server in
            let configuration = try ValkeyConfiguration(url: server.url)
            try await withValkeyClient(configuration) { publisherClient in
                try await withValkeyClient(configuration) { listenerClient in
                    let prefix = "notice-tests:\(UUID().uuidString):"
                    let publisher = ValkeyRevocationNotices(client: publisherClient, keyPrefix: prefix)
                    let listener = ValkeyRevocationNotices(client: listenerClient, keyPrefix: prefix)
                    let (heard, heardSink) = AsyncStream.makeStream(of: RevocationNotice.self)
                    let (subscriptions, subscribedSink) = AsyncStream.makeStream(of: Void.self)
                    let listening = Task {
                        await listener.listen(received: { heardSink.yield($0) }, resubscribed: { subscribedSink.yield() })
                    }
                    var subscribed = subscriptions.makeAsyncIterator()
                    var notices = heard.makeAsyncIterator()
                    #expect(await subscribed.next() != nil)
                    try await publisher.publish(RevocationNotice(userID: "usrOne", familyID: "f1"))
                    #expect(await notices.next() == RevocationNotice(userID: "usrOne", familyID: "f1"))
                    // A message that is no notice is dropped, and the listener goes on.
                    try await publisherClient.publish(Array("not json".utf8), to: prefix + "revocations")
                    // The subscription's connection dies: the listener subscribes again and says so.
                    _ = try await publisherClient.command(["CLIENT", "KILL", "TYPE", "pubsub"])
                    #expect(await subscribed.next() != nil)
                    try await publisher.publish(RevocationNotice(userID: "usrTwo"))
                    #expect(await notices.next() == RevocationNotice(userID: "usrTwo"))
                    listening.cancel()
                    await listening.value
                }
            }
        }
    }
}
