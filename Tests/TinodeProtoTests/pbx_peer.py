#!/usr/bin/env python3
"""Python side of the pbx wire-compatibility test (see WireCompatibilityTests.swift).

Uses Tinode's official Python bindings (PyPI `tinode-grpc`, 0.22.3) as the
reference encoder/decoder for the `pbx` protocol.

    pbx_peer.py check        print versions; exit 3 if tinode_grpc cannot be imported
    pbx_peer.py encode DIR   write DIR/<name>.bin for every sample message
    pbx_peer.py decode DIR   parse DIR/<name>.bin (written by Swift) and compare each
                             with this file's own construction of the same message

The samples below are built independently of the Swift test, which builds the
same values with the generated Swift types. Only fields present in
tinode-grpc 0.22.3 are used (it lacks GetOpts.ranges, SetQuery.aux,
TopicDesc.online, ServerMeta.aux, ServerPres.What.AUX and the file messages).

Exit status: 0 all good, 1 mismatches, 2 usage error, 3 tinode_grpc missing.
"""

import difflib
import os
import sys

try:
    import tinode_grpc
    from tinode_grpc import pb
    from google.protobuf import text_format
    import google.protobuf
except ImportError as exc:  # CI installs tinode-grpc; a missing module is a failure, not a skip.
    sys.stderr.write(
        "pbx_peer: cannot import tinode_grpc (%s) with %s\n"
        "pbx_peer: install it with: %s -m pip install tinode-grpc\n"
        % (exc, sys.executable, sys.executable)
    )
    sys.exit(3)

try:
    from google.protobuf import unknown_fields as _unknown_fields
except ImportError:  # very old protobuf
    _unknown_fields = None

# ---------------------------------------------------------------------------
# Shared sample values (the Swift test uses the same literals).
# ---------------------------------------------------------------------------

TS = 1764400000123  # ms since epoch
UID = "usrAlice000001"
PEER = "usrBob00000001"
GRP = "grpChat0000001"
DRAFTY = b'"text/x-drafty"'


def cred_email():
    return pb.ClientCred(
        method="email",
        value="alice@example.com",
        response="123456",
        params={"code": b'"123456"', "ttl": b"3600"},
    )


def topic_desc():
    return pb.TopicDesc(
        created_at=TS - 86400000,
        updated_at=TS - 3600000,
        touched_at=TS,
        defacs=pb.DefaultAcsMode(auth="JRWPS", anon="N"),
        acs=pb.AccessMode(want="JRWPASDO", given="JRWPAS"),
        seq_id=1234,
        read_id=1200,
        recv_id=1210,
        del_id=5,
        public=b'{"fn":"\xd0\x93\xd1\x80\xd1\x83\xd0\xbf\xd0\xbf\xd0\xb0 \xf0\x9f\x9a\x80","note":"desc"}',
        private=b'{"comment":"\xf0\x9f\x94\x92"}',
        state="ok",
        state_at=TS - 1,
        trusted=b'{"verified":true}',
        last_seen_time=TS - 60000,
        last_seen_user_agent="Chrome/120 \u2603",
        is_chan=True,
    )


def sub_user():
    return pb.TopicSub(
        updated_at=TS - 10,
        deleted_at=TS + 10,
        online=True,
        acs=pb.AccessMode(want="JRWPS", given="JRWP"),
        read_id=7,
        recv_id=8,
        public=b'{"fn":"Bob \xd0\x91\xd0\xbe\xd0\xb1\xd1\x80\xd0\xbe\xd0\xb2"}',
        private=b'{"comment":"friend"}',
        user_id=PEER,
        touched_at=TS - 20,
        seq_id=9,
        del_id=2,
        last_seen_time=TS - 30,
        last_seen_user_agent="TinodeWeb/0.25 \u00fc",
        trusted=b'{"staff":true}',
    )


def sub_topic():
    return pb.TopicSub(
        updated_at=TS - 100,
        online=True,
        acs=pb.AccessMode(want="JRWPASDO", given="JRWPASDO"),
        read_id=-1,
        recv_id=1234,
        public=b'{"fn":"\xe4\xb8\x96\xe7\x95\x8c"}',
        private=b'["a","b"]',
        topic=GRP,
        touched_at=TS,
        seq_id=1234,
        del_id=5,
    )


def server_data():
    return pb.ServerData(
        topic=GRP,
        from_user_id=UID,
        deleted_at=TS + 5000,
        seq_id=17,
        head={"mime": DRAFTY, "replace": b'":15"'},
        content=b'"\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xf0\x9f\x91\x8b"',
        timestamp=TS,
    )


def client_del(**kw):
    # `del` is a Python keyword: the oneof member has to be passed by name.
    return pb.ClientMsg(**{"del": pb.ClientDel(**kw)})


def build_samples():
    s = {}
    s["client_hi"] = pb.ClientMsg(hi=pb.ClientHi(
        id="1001",
        user_agent="TinodeSidecar/1.0 (Linux; Swift) \u00fcn\u00efc\u00f8d\u00e9",
        ver="0.25",
        device_id="dev-\u00df-42",
        lang="de-DE",
        platform="web",
        background=True,
    ))
    s["client_login"] = pb.ClientMsg(login=pb.ClientLogin(
        id="1002",
        scheme="basic",
        secret=b"alice:p\xc3\xa4ss\x00\xff\xfe\x80",  # raw bytes, deliberately not UTF-8
        cred=[cred_email()],
    ))
    s["client_sub"] = pb.ClientMsg(sub=pb.ClientSub(
        id="1003",
        topic=GRP,
        set_query=pb.SetQuery(
            desc=pb.SetDesc(
                default_acs=pb.DefaultAcsMode(auth="JRWPS", anon="N"),
                public=b'{"fn":"\xd0\x93\xd1\x80\xd1\x83\xd0\xbf\xd0\xbf\xd0\xb0"}',
                private=b'{"comment":"mine"}',
                trusted=b'{"verified":true}',
            ),
            sub=pb.SetSub(user_id=PEER, mode="JRWPA"),
            tags=["email:alice@example.com", "\u0442\u0435\u0433"],
            cred=pb.ClientCred(method="tel", value="+15551234567", response="9876",
                               params={"lang": b'"en"'}),
        ),
        get_query=pb.GetQuery(
            what="desc sub data",
            desc=pb.GetOpts(if_modified_since=TS, user=UID, topic=GRP, since_id=1,
                            before_id=2, limit=-7),
            sub=pb.GetOpts(if_modified_since=TS - 1000, user=PEER, limit=50),
            data=pb.GetOpts(since_id=17, before_id=42, limit=24),
        ),
    ))
    s["client_pub"] = pb.ClientMsg(
        pub=pb.ClientPub(
            id="1004",
            topic=GRP,
            no_echo=True,
            head={"mime": DRAFTY, "reply": b'"grpChat0000001:17"', "forwarded": b'"usrBob00000001:5"'},
            content=b'{"txt":"Hello, \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x91\x8b",'
                    b'"fmt":[{"at":0,"len":5,"tp":"ST"}]}',
        ),
        extra=pb.ClientExtra(
            attachments=["/v0/file/s/abc.jpg", "/v0/file/s/d\u00e9f.png"],
            on_behalf_of=PEER,
            auth_level=pb.ROOT,
        ),
    )
    s["client_acc"] = pb.ClientMsg(acc=pb.ClientAcc(
        id="1005",
        user_id="new",
        scheme="basic",
        secret=b"bob:s\xe9cr\xe9t\x01",
        login=True,
        tags=["basic:bob", "tel:+15551234567"],
        desc=pb.SetDesc(
            default_acs=pb.DefaultAcsMode(auth="JRWPAS", anon="N"),
            public=b'{"fn":"Bob \xd0\x91\xd0\xbe\xd0\xb1\xd1\x80\xd0\xbe\xd0\xb2","photo":{"type":"jpg"}}',
            private=b'{"comment":"x"}',
            trusted=b'{"staff":true}',
        ),
        cred=[cred_email(), pb.ClientCred(method="tel", value="+15557654321")],
        token=b"\x01\x02tok\xff",
        state="ok",
        auth_level=pb.AUTH,
        tmp_scheme="code",
        tmp_secret=b"\x00\x01\x02\xfe",
    ))
    s["client_del"] = client_del(
        id="1006",
        topic="me",
        what=pb.ClientDel.USER,
        del_seq=[pb.SeqRange(low=1, hi=10), pb.SeqRange(low=15), pb.SeqRange(low=20, hi=2147483647)],
        user_id=PEER,
        cred=pb.ClientCred(method="email", value="bob@example.com"),
        hard=True,
    )
    s["client_note"] = pb.ClientMsg(note=pb.ClientNote(
        topic=PEER,
        what=pb.CALL,
        seq_id=123,
        unread=-1,
        event=pb.ICE_CANDIDATE,
        payload=b'{"candidate":"candidate:1 1 udp 2122 host","sdpMid":"0"}',
    ))
    s["client_leave"] = pb.ClientMsg(leave=pb.ClientLeave(id="1007", topic=GRP, unsub=True))
    s["client_get"] = pb.ClientMsg(get=pb.ClientGet(
        id="1008",
        topic="me",
        query=pb.GetQuery(what="sub tags cred", sub=pb.GetOpts(if_modified_since=TS, limit=100)),
    ))
    s["client_set"] = pb.ClientMsg(set=pb.ClientSet(
        id="1009",
        topic="me",
        query=pb.SetQuery(tags=["alias:ali", "\u0442\u0435\u0433"], sub=pb.SetSub(user_id=PEER, mode="JRWP")),
    ))
    s["server_ctrl"] = pb.ServerMsg(
        ctrl=pb.ServerCtrl(
            id="1002",
            topic="me",
            code=200,
            text="OK",
            params={
                "user": b'"usrAlice000001"',
                "authlvl": b'"auth"',
                "token": b'"AbCd+/EfGh=="',
                "expires": b'"2026-12-13T08:00:00.123Z"',
                "maxMessageSize": b"262144",
                "reqCred": b'{"auth":["email"]}',
                "cred": b'["email","tel"]',
                "nothing": b"null",
            },
        ),
        topic="legacy",  # deprecated field 6, set here only to pin its number
    )
    s["server_data"] = pb.ServerMsg(data=server_data())
    s["server_pres"] = pb.ServerMsg(pres=pb.ServerPres(
        topic="me",
        src=GRP,
        what=pb.ServerPres.MSG,
        user_agent="Tinode/1.0 \u00e9",
        seq_id=18,
        del_id=3,
        del_seq=[pb.SeqRange(low=4, hi=7)],
        target_user_id=PEER,
        actor_user_id=UID,
        acs=pb.AccessMode(want="JRWPS", given="JRWP"),
    ))
    s["server_meta"] = pb.ServerMsg(meta=pb.ServerMeta(
        id="1010",
        topic=GRP,
        desc=topic_desc(),
        sub=[sub_user(), sub_topic()],
        **{"del": pb.DelValues(del_id=5, del_seq=[pb.SeqRange(low=1, hi=3), pb.SeqRange(low=9)])},
        tags=["tag1", "\u0442\u0435\u04332"],
        cred=[pb.ServerCred(method="email", value="alice@example.com", done=True)],
    ))
    s["server_info"] = pb.ServerMsg(info=pb.ServerInfo(
        topic=PEER,
        from_user_id=UID,
        what=pb.CALL,
        seq_id=9,
        src=UID,
        event=pb.RINGING,
        payload=b'{"sdp":"v=0"}',
    ))
    s["client_req"] = pb.ClientReq(
        msg=pb.ClientMsg(pub=pb.ClientPub(id="1011", topic=GRP, head={"mime": DRAFTY},
                                          content=b'"hi \xf0\x9f\x98\x80"')),
        sess=pb.Session(
            session_id="sess-\U0001F600-01",
            user_id=UID,
            auth_level=pb.AUTH,
            remote_addr="[::1]:54321",
            user_agent="TinodeWeb/0.25 (Firefox; Linux)",
            device_id="device-\u03c0",
            language="fr-FR",
        ),
    )
    s["server_resp_respond"] = pb.ServerResp(
        status=pb.RESPOND,
        srvmsg=pb.ServerMsg(ctrl=pb.ServerCtrl(
            id="1011", topic=GRP, code=403, text="permission denied",
            params={"reason": b'"blocked by plugin \xe2\x9b\x94"'},
        )),
    )
    s["server_resp_replace"] = pb.ServerResp(
        status=pb.REPLACE,
        clmsg=pb.ClientMsg(pub=pb.ClientPub(id="1011", topic=GRP, head={"mime": b'"text/plain"'},
                                            content=b'"[redacted]"')),
    )
    s["search_query"] = pb.SearchQuery(user_id=UID, query="email:alice@example.com \u0438\u043c\u044f")
    s["search_found"] = pb.SearchFound(
        status=pb.REPLACE,
        query="email:alice@example.com",
        result=[sub_user(), sub_topic()],
    )
    s["account_event"] = pb.AccountEvent(
        action=pb.CREATE,
        user_id=UID,
        default_acs=pb.DefaultAcsMode(auth="JRWPAS", anon="N"),
        public=b'{"fn":"Alice \xc3\x84lice"}',
        tags=["email:alice@example.com", "basic:alice"],
    )
    s["account_event_delete"] = pb.AccountEvent(action=pb.DELETE, user_id=PEER)
    s["topic_event"] = pb.TopicEvent(action=pb.UPDATE, name=GRP, desc=topic_desc())
    s["subscription_event"] = pb.SubscriptionEvent(
        action=pb.DELETE,
        topic=GRP,
        user_id=PEER,
        del_id=2,
        read_id=10,
        recv_id=11,
        mode=pb.AccessMode(want="JRWPS", given="JRW"),
        private=b'{"comment":"\xd0\xbb\xd0\xb8\xd1\x87\xd0\xbd\xd0\xbe\xd0\xb5"}',
    )
    s["message_event"] = pb.MessageEvent(action=pb.UPDATE, msg=server_data())
    return s


# ---------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------

def as_text(msg):
    return text_format.MessageToString(msg, as_utf8=True, print_unknown_fields=True)


def _is_repeated(fd):
    # protobuf >= 5 has is_repeated; `label` is gone in recent releases.
    if hasattr(fd, "is_repeated"):
        return fd.is_repeated
    return fd.label == fd.LABEL_REPEATED


def unknown_field_paths(msg, path):
    """Every unknown field anywhere inside msg, as 'path: field N (wire type W)'."""
    found = []
    if _unknown_fields is not None:
        for f in _unknown_fields.UnknownFieldSet(msg):
            found.append("%s: field %d (wire type %d)" % (path or "<root>", f.field_number, f.wire_type))
    for fd, value in msg.ListFields():
        if fd.message_type is None:
            continue
        name = "%s.%s" % (path, fd.name) if path else fd.name
        if fd.message_type.GetOptions().map_entry:
            value_fd = fd.message_type.fields_by_name["value"]
            if value_fd.message_type is not None:
                for k, v in value.items():
                    found.extend(unknown_field_paths(v, "%s[%r]" % (name, k)))
        elif _is_repeated(fd):
            for i, v in enumerate(value):
                found.extend(unknown_field_paths(v, "%s[%d]" % (name, i)))
        else:
            found.extend(unknown_field_paths(value, name))
    # Belt and braces: dropping unknown fields must not change the encoded size.
    stripped = type(msg)()
    stripped.CopyFrom(msg)
    stripped.DiscardUnknownFields()
    if not found and stripped.ByteSize() != msg.ByteSize():
        found.append("%s: unknown fields present (size %d vs %d without them)"
                     % (path or "<root>", msg.ByteSize(), stripped.ByteSize()))
    return found


def versions():
    git_version = "?"
    try:
        with open(os.path.join(os.path.dirname(tinode_grpc.__file__), "GIT_VERSION")) as fh:
            git_version = fh.read().strip()
    except OSError:
        pass
    return "tinode_grpc %s, protobuf %s, python %s" % (
        git_version, google.protobuf.__version__, sys.version.split()[0])


def encode(out_dir):
    samples = build_samples()
    os.makedirs(out_dir, exist_ok=True)
    for name, msg in samples.items():
        with open(os.path.join(out_dir, name + ".bin"), "wb") as fh:
            fh.write(msg.SerializeToString())
    print("pbx_peer: wrote %d messages to %s (%s)" % (len(samples), out_dir, versions()))
    return 0


def decode(in_dir):
    samples = build_samples()
    failures = []
    passed = 0
    present = {f[:-4] for f in os.listdir(in_dir) if f.endswith(".bin")}
    for extra in sorted(present - set(samples)):
        failures.append("%s: file written by Swift but unknown to the Python peer" % extra)
    for name, expected in samples.items():
        path = os.path.join(in_dir, name + ".bin")
        if not os.path.exists(path):
            failures.append("%s: missing %s" % (name, path))
            continue
        with open(path, "rb") as fh:
            data = fh.read()
        got = type(expected)()
        try:
            got.ParseFromString(data)
        except Exception as exc:  # DecodeError and friends
            failures.append("%s: %s.ParseFromString failed: %s" % (name, type(expected).__name__, exc))
            continue
        problems = []
        unknown = unknown_field_paths(got, "")
        if unknown:
            problems.append("unknown fields (wrong field number on the Swift side?):\n    "
                            + "\n    ".join(unknown))
        if got != expected:
            diff = difflib.unified_diff(
                as_text(expected).splitlines(), as_text(got).splitlines(),
                "python-built", "swift-decoded", lineterm="")
            problems.append("message differs:\n" + "\n".join("    " + line for line in diff))
        if problems:
            failures.append("%s (%s):\n  %s" % (name, type(expected).__name__, "\n  ".join(problems)))
        else:
            passed += 1
    for f in failures:
        print("FAIL " + f)
    print("pbx_peer: decoded with " + versions())
    print("pbx_peer: %d passed, %d failed" % (passed, len(failures)))
    return 1 if failures else 0


def main(argv):
    if len(argv) == 2 and argv[1] == "check":
        print("pbx_peer: " + versions())
        return 0
    if len(argv) == 3 and argv[1] == "encode":
        return encode(argv[2])
    if len(argv) == 3 and argv[1] == "decode":
        return decode(argv[2])
    sys.stderr.write("usage: pbx_peer.py check | encode DIR | decode DIR\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
