import Foundation
import MongoReader
import Testing

/// The query documents, encoded with libbson and compared as canonical Extended JSON, which spells
/// out every BSON type: the reader must send exactly Tinode's own filters (tinode-mongo-schema.md
/// §6), with the right types, and nothing but `find`.
@Suite("MongoDB query documents")
struct QueryDocumentTests {
    let alice = TinodeUserID(stored: "7yUCHniegrM")!
    let room = "grpbcMl2qXqRec"

    func canonical(_ elements: [BSONElement]) -> String {
        BSONDocument(elements).canonicalExtendedJSON
    }

    @Test("history page: Tinode's MessageGetAll filter, newest first, stored ids without `usr`")
    func messagePage() {
        let query = TinodeQueries.messagePage(topic: room, reader: alice, before: 120, limit: 50)
        #expect(query.collection == "messages")
        #expect(
            canonical(query.filter)
                == #"{ "topic" : "grpbcMl2qXqRec", "delid" : { "$exists" : false }, "deletedfor.user" : { "$ne" : "7yUCHniegrM" }, "seqid" : { "$gte" : { "$numberInt" : "0" }, "$lt" : { "$numberLong" : "120" } } }"#
        )
        #expect(canonical(query.sort) == #"{ "topic" : { "$numberInt" : "-1" }, "seqid" : { "$numberInt" : "-1" } }"#)
        #expect(query.limit == 50)
        #expect(
            canonical(query.projection)
                == #"{ "_id" : { "$numberInt" : "0" }, "seqid" : { "$numberInt" : "1" }, "from" : { "$numberInt" : "1" }, "createdat" : { "$numberInt" : "1" }, "head" : { "$numberInt" : "1" }, "content" : { "$numberInt" : "1" } }"#
        )
    }

    @Test("history page without `before` has no upper bound; the limit is clamped to 1...1000")
    func pageEdges() {
        let first = TinodeQueries.messagePage(topic: room, reader: alice, before: nil, limit: 5000)
        #expect(canonical(first.filter).contains(#""seqid" : { "$gte" : { "$numberInt" : "0" } }"#))
        #expect(first.limit == 1000)
        #expect(TinodeQueries.messagePage(topic: room, reader: alice, before: nil, limit: 0).limit == 1)
    }

    @Test("subscription by primary key `<topic>:<user>`, live only (deletedat absent)")
    func subscription() {
        let query = TinodeQueries.subscription(topic: room, user: alice)
        #expect(query.collection == "subscriptions")
        #expect(canonical(query.filter) == #"{ "_id" : "grpbcMl2qXqRec:7yUCHniegrM", "deletedat" : { "$exists" : false } }"#)
        #expect(Set(BSONDocument(query.projection).keys) == ["modewant", "modegiven", "state"])
        #expect(query.limit == 1)
    }

    @Test("users, topics and auth look-ups by their keys")
    func lookUps() {
        #expect(canonical(TinodeQueries.userState(alice).filter) == #"{ "_id" : "7yUCHniegrM" }"#)
        #expect(canonical(TinodeQueries.topic(room).filter) == #"{ "_id" : "grpbcMl2qXqRec" }"#)
        #expect(canonical(TinodeQueries.directoryUser(alice).filter) == #"{ "_id" : "7yUCHniegrM", "state" : { "$numberInt" : "0" } }"#)
        #expect(BSONDocument(TinodeQueries.directoryUser(alice).projection).keys == ["public.fn"])
        #expect(canonical(TinodeQueries.basicLogin(alice).filter) == #"{ "userid" : "7yUCHniegrM", "scheme" : "basic" }"#)
        #expect(TinodeQueries.basicLogin(alice).collection == "auth")
    }

    @Test("the user id's two spellings: `usr` + 11 characters outside, the bare 11 inside")
    func userIDs() {
        #expect(TinodeUserID(clientForm: "usr7yUCHniegrM")?.stored == "7yUCHniegrM")
        #expect(TinodeUserID(stored: "7yUCHniegrM")?.clientForm == "usr7yUCHniegrM")
        for bad in [
            "7yUCHniegrM", "usr", "usr7yUCHniegr", "usr7yUCHniegrMM", "usr7yUCH/iegrM", "usr7yUCH+iegrM", "grp7yUCHniegrM", "usr7yUCHniég",
        ] {
            #expect(TinodeUserID(clientForm: bad) == nil, "\(bad)")
        }
    }

    @Test("access bits: J and R on both sides to read; J on both sides to be a member")
    func accessModes() {
        #expect(AccessMode.canRead(want: 47, given: 47))
        #expect(AccessMode.canRead(want: 255, given: 3))
        #expect(!AccessMode.canRead(want: 47, given: 13))  // R taken away
        #expect(!AccessMode.canRead(want: 47, given: 46))  // banned (no J given)
        #expect(!AccessMode.canRead(want: 2, given: 47))  // left (no J wanted)
        #expect(AccessMode.isMember(want: 13, given: 13))
        #expect(!AccessMode.isMember(want: 47, given: 0))
    }
}
