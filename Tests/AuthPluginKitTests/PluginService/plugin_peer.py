#!/usr/bin/env python3
"""Plays Tinode against AuthPlugin's pbx.Plugin server (see PluginConformanceTests.swift).

Uses Tinode's official Python bindings (PyPI `tinode-grpc`) as the client: every message is
built with `tinode_grpc.pb` and sent with `tinode_grpc.pbx.PluginStub` over a real HTTP/2
socket, with a deadline on every call as Tinode sets one. Each answer is checked field by field.

    plugin_peer.py HOST:PORT CLIENT_IP OTHER_IP UID

The server under test must run with PLUGIN_LOGIN_ATTEMPTS_PER_MINUTE=3, PLUGIN_MAX_PUB_BYTES=1024,
PLUGIN_CANONICAL_LOGINS=true and PLUGIN_FIND_EMAILS=true. CLIENT_IP and OTHER_IP are addresses no
other test uses (their login buckets start full); UID is an 11-character Tinode uid for the Account
event.

Prints one line per check ("ok NAME" or "FAIL NAME: why"), then "N passed, M failed".
Exit status: 0 all good, 1 a check failed, 2 usage error, 3 tinode_grpc or grpc missing.
"""

import hashlib
import json
import sys

try:
    import grpc
    from tinode_grpc import pb, pbx
except ImportError as exc:  # CI installs tinode-grpc; a missing module is a failure, not a skip.
    sys.stderr.write("plugin_peer: cannot import tinode_grpc/grpc (%s) with %s\n" % (exc, sys.executable))
    sys.exit(3)

# Tinode's sample config gives each plugin call 20 ms; a loaded CI machine needs more.
DEADLINE_SECONDS = 5.0

# The address whose e-mail searches and account are checked. Plain ASCII, so that its login name
# can be computed here from the documented rule without the Swift code:
# <local part>_<first two letters or digits of the domain>_<first 8 hex of md5(address)>.
EMAIL = "Grace.Hopper@Navy.MIL"
NORMALISED = EMAIL.lower()
LOCAL, DOMAIN = NORMALISED.split("@")
LOGIN = "%s_%s_%s" % (LOCAL, DOMAIN[:2], hashlib.md5(NORMALISED.encode()).hexdigest()[:8])


# The test proves the address first: Find rewrites only proven addresses, and only to their
# email: tag (login-name tags may belong to an account with a colliding or unverified address).
TAGS = "email:%s" % NORMALISED

passed = 0
failed = 0


def check(name, condition, detail=""):
    global passed, failed
    if condition:
        passed += 1
        print("ok %s" % name)
    else:
        failed += 1
        print("FAIL %s: %s" % (name, detail))


def session(client_ip, port, user_id="", level=pb.NONE):
    return pb.Session(
        session_id="sess-%d" % port,
        user_id=user_id,
        auth_level=level,
        remote_addr="%s:%d" % (client_ip, port),
        user_agent="TinodeWeb/0.25.3 (Linux) tn-sdk",
        device_id="",
        language="en-US",
    )


def describe(message):
    return str(message).replace("\n", " ")


def check_continue(name, answer):
    check(
        name,
        answer.status == pb.CONTINUE and not answer.HasField("srvmsg") and not answer.HasField("clmsg"),
        describe(answer),
    )


def check_ctrl(name, answer, msg_id, topic, code):
    ctrl = answer.srvmsg.ctrl
    check(
        name,
        answer.status == pb.RESPOND
        and answer.srvmsg.WhichOneof("Message") == "ctrl"
        and ctrl.id == msg_id
        and ctrl.topic == topic
        and ctrl.code == code
        and ctrl.text != ""
        and not answer.HasField("clmsg"),
        describe(answer),
    )


def run(target, client_ip, other_ip, uid):
    channel = grpc.insecure_channel(target)
    stub = pbx.PluginStub(channel)

    def fire(msg, sess):
        return stub.FireHose(pb.ClientReq(msg=msg, sess=sess), timeout=DEADLINE_SECONDS)

    # {hi} before login: nothing to decide.
    hi = pb.ClientMsg(hi=pb.ClientHi(id="100", user_agent="TinodeWeb/0.25.3", ver="0.25", lang="en-US"))
    check_continue("firehose hi continues", fire(hi, session(client_ip, 40000)))

    # {login}: three attempts per minute are allowed, the fourth is throttled with the client's id.
    for attempt in range(1, 4):
        login = pb.ClientMsg(login=pb.ClientLogin(id="l%d" % attempt, scheme="basic", secret=b"grace:wrong-password"))
        check_continue("firehose login %d continues" % attempt, fire(login, session(client_ip, 40000 + attempt)))
    login = pb.ClientMsg(login=pb.ClientLogin(id="l4", scheme="basic", secret=b"grace:wrong-password"))
    check_ctrl("firehose login 4 throttled with ctrl 429", fire(login, session(client_ip, 40004)), "l4", "", 429)

    # {pub} from a logged-in session: at the size limit it passes, one byte over gets 413.
    user_sess = session("127.0.0.1", 40010, user_id="usr" + uid, level=pb.AUTH)
    content = json.dumps("x" * 1022).encode()  # 1024 bytes of JSON
    pub = pb.ClientMsg(pub=pb.ClientPub(id="p1", topic="grpRoom0000001", no_echo=False, content=content))
    check_continue("firehose pub at the limit continues", fire(pub, user_sess))
    big = pb.ClientMsg(
        pub=pb.ClientPub(
            id="p2", topic="grpRoom0000001", head={"mime": b'"text/x-drafty"'}, content=json.dumps("x" * 1023).encode()
        )
    )
    check_ctrl("firehose pub over the limit gets ctrl 413", fire(big, user_sess), "p2", "grpRoom0000001", 413)

    # {acc user:"new" scheme:"basic"} with an email credential: the login must be the mapped one.
    def new_account(msg_id, login):
        return pb.ClientMsg(
            acc=pb.ClientAcc(
                id=msg_id,
                user_id="new",
                scheme="basic",
                secret=("%s:correct-horse-battery" % login).encode(),
                login=True,
                tags=["navy"],
                desc=pb.SetDesc(public=b'{"fn":"Grace Hopper"}'),
                cred=[pb.ClientCred(method="email", value=EMAIL)],
            )
        )

    check_ctrl(
        "firehose acc with another login gets ctrl 422",
        fire(new_account("a1", "grace"), session(other_ip, 40020)),
        "a1",
        "",
        422,
    )
    check_continue("firehose acc with the mapped login continues", fire(new_account("a2", LOGIN), session(other_ip, 40021)))

    # Find: an e-mail address becomes the user's tags; other searches continue.
    for query in [EMAIL, "email:" + NORMALISED]:
        found = stub.Find(pb.SearchQuery(user_id="usr" + uid, query=query), timeout=DEADLINE_SECONDS)
        check(
            "find %r is replaced" % query,
            found.status == pb.REPLACE and found.query == TAGS and len(found.result) == 0,
            describe(found),
        )
    found = stub.Find(pb.SearchQuery(user_id="usr" + uid, query="basic:svc1 room:general"), timeout=DEADLINE_SECONDS)
    check("find without e-mail continues", found.status == pb.CONTINUE and found.query == "" and len(found.result) == 0, describe(found))

    # Events: read-only notifications answered with Unused.
    def check_unused(name, answer):
        check(name, isinstance(answer, pb.Unused) and len(answer.ListFields()) == 0, describe(answer))

    account = pb.AccountEvent(
        action=pb.CREATE,
        user_id="usr" + uid,
        default_acs=pb.DefaultAcsMode(auth="JRWPAS", anon="N"),
        public=b'{"fn":"Grace Hopper","note":"COBOL"}',
        tags=["basic:" + LOGIN, "navy"],
    )
    check_unused("account create answered", stub.Account(account, timeout=DEADLINE_SECONDS))
    topic = pb.TopicEvent(
        action=pb.CREATE,
        name="grpRoom0000001",
        desc=pb.TopicDesc(
            created_at=1764400000000,
            updated_at=1764400000000,
            defacs=pb.DefaultAcsMode(auth="JRWP", anon="N"),
            seq_id=0,
            public=b'{"fn":"Room"}',
        ),
    )
    check_unused("topic create answered", stub.Topic(topic, timeout=DEADLINE_SECONDS))
    subscription = pb.SubscriptionEvent(
        action=pb.CREATE,
        topic="grpRoom0000001",
        user_id="usr" + uid,
        mode=pb.AccessMode(want="JRWPAS", given="JRWPAS"),
        private=b'{"comment":"mine"}',
    )
    check_unused("subscription create answered", stub.Subscription(subscription, timeout=DEADLINE_SECONDS))
    message = pb.MessageEvent(
        action=pb.CREATE,
        msg=pb.ServerData(
            topic="grpRoom0000001",
            from_user_id="usr" + uid,
            seq_id=1,
            timestamp=1764400000123,
            head={"mime": b'"text/x-drafty"'},
            content=b'{"txt":"First compiler","fmt":[{"at":0,"len":5,"tp":"ST"}]}',
        ),
    )
    check_unused("message create answered", stub.Message(message, timeout=DEADLINE_SECONDS))
    channel.close()


def main(argv):
    if len(argv) != 5:
        sys.stderr.write(__doc__)
        return 2
    try:
        run(argv[1], argv[2], argv[3], argv[4])
    except grpc.RpcError as error:
        check("rpc", False, "%s: %s" % (error.code(), error.details()))
    print("login=%s" % LOGIN)
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
