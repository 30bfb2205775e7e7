#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/ (run from anywhere; overwrites seed-* files only).

The JWT seeds are signed with the keys hard-coded in Sources/FuzzJWTParser/main.swift and expire
long after that target's fixed clock (1 800 000 000), so that the fuzzer starts from tokens that
verify and mutates towards every refusal."""
import base64, hashlib, hmac, json, os

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def write(target, name, data):
    os.makedirs(os.path.join(ROOT, target), exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(ROOT, target, "seed-" + name), "wb") as f:
        f.write(data)


# Login names: the first byte picks the maximum length (13 + byte % 20).
for i, address in enumerate([
    "john@gmail.com", " John.Doe+news@Example.ORG ", "ｊｏｈｎ@ｇｍａｉｌ.ｃｏｍ", "a@b", "a@[192.168.0.1]",
    "\"quoted@local\"@example.com", "..__@x.y", "müller@bücher.de", "用户@例子.广告", "ǅemal@x.org",
    "İstanbul@ex.com", "a\u200d@b.c", "x@\u202eevil", "ﬃ@ligature.fr", "\U0001F600@emoji.io",
    "very.long.local.part.that.goes.on.and.on@example.com", "@nolocal", "nodomain@", "no-at-sign",
    "ß@straße.de", "ΣΑΣ@greek.gr", "١٢٣@arabic.eg", "Ⅻ@roman.it",
]):
    write("LoginNames", f"{i:02d}", bytes([i * 7 % 256]) + address.encode("utf-8"))

# REST-auth requests as Tinode sends them (tinode-protocol.md 1.3, 1.4) and near misses.
secret = base64.b64encode(b"alice:pw").decode()
for i, body in enumerate([
    {"endpoint": "auth", "name": "rest", "secret": secret, "addr": "127.0.0.1:5555"},
    {"endpoint": "link", "name": "basic", "rec": {"uid": "LELEQHDWbgY", "authlvl": "auth", "lifetime": 5000000000000,
                                                   "features": "V", "tags": ["email:alice@example.com"], "State": "ok"},
     "secret": secret},
    {"endpoint": "checkunique", "secret": secret, "addr": "[::1]:1"},
    {"endpoint": "del", "rec": {"uid": "LELEQHDWbgY", "state": "ok"}},
    {"endpoint": "rtagns", "name": "rest"},
    {"Endpoint": "upd", "Rec": {"UID": "AAAAAAAAAAA", "Tags": None}, "Secret": secret},
    {"endpoint": "gen", "rec": None, "secret": None},
]):
    write("RESTAuthDecoder", f"{i:02d}", json.dumps(body))
for i, raw in enumerate([
    '{"endpoint":"auth","secret":"not base64!"}', '{"endpoint":42}', '[]', '{"endpoint":"auth","rec":{"tags":[1]}}',
    '{"endpoint":"auth","secret":"\\u00e9"}', '{"endpoint":"a\\ud800"}', '{"endpoint":"auth",', '[' * 64,
    b'{"endpoint":"\xff\xfe"}',
]):
    write("RESTAuthDecoder", f"raw-{i:02d}", raw)


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(header, claims, key):
    signing_input = b64u(json.dumps(header).encode()) + "." + b64u(json.dumps(claims).encode())
    if key is None:
        return signing_input + "."
    return signing_input + "." + b64u(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())


ACCESS = b"fuzz-access-secret-0123456789abcdef!!"
REFRESH = b"fuzz-refresh-secret-0123456789abcdef!"
EXTERNAL = b"fuzz-external-secret-0123456789abcdef"
common = {"iss": "tinode-sidecar", "aud": "tinode-sidecar", "iat": 1_799_999_000, "exp": 1_900_000_000}
access = dict(common, user_id="usrAbCdEfGhIjK", access_id="acc1", token_use="access")
refresh = dict(common, user_id="usrAbCdEfGhIjK", jti="r1", family_id="f1", token_use="refresh")
external = {"sub": "u1", "email": "alice@example.com", "name": "Alice", "iss": "https://backend.example", "exp": 1_900_000_000}
seeds = {
    "access": token({"alg": "HS256", "typ": "JWT"}, access, ACCESS),
    "refresh": token({"alg": "HS256", "typ": "JWT"}, refresh, REFRESH),
    "external": token({"alg": "HS256", "kid": "backend-1"}, external, EXTERNAL),
    "external-aud-list": token({"alg": "HS256", "kid": "backend-1"}, dict(external, aud=["a", "b"], nbf=1), EXTERNAL),
    "none": token({"alg": "none"}, access, None),
    "confusion": token({"alg": "HS256", "kid": "ec"}, access, b"-----BEGIN PUBLIC KEY-----"),
    "es256-garbage": token({"alg": "ES256", "kid": "ec"}, access, ACCESS),
    "kid-path": token({"alg": "HS256", "kid": "../../../../etc/passwd"}, access, ACCESS),
    "jku": token({"alg": "HS256", "jku": "http://127.0.0.1:1/jwks", "x5u": "http://127.0.0.1:1/x5u"}, access, ACCESS),
    "crit": token({"alg": "HS256", "crit": ["exp"]}, access, ACCESS),
    "expired": token({"alg": "HS256"}, dict(access, exp=1_700_000_000), ACCESS),
    "nbf": token({"alg": "HS256"}, dict(access, nbf=1_850_000_000), ACCESS),
    "bomb": b64u(b"[" * 700) + ".e30.AAAA",
    "numbers": token({"alg": "HS256"}, dict(access, exp=1e308, iat=-1e308), ACCESS),
}
for name, text in seeds.items():
    write("JWTParser", name, text)
