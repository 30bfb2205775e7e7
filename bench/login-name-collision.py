#!/usr/bin/env python3
"""Finds two e-mail addresses with the same canonical login name, offline.

A canonical login name is `<local>_<2-char domain code>_<first 8 hex of md5(normalised address)>`
(README, "Login names"): only 32 bits of md5 tell two addresses with the same local part and domain
code apart. This birthday search hashes `<local>@<code><n>.<tld>` for n = 0, 1, 2, ... (every
candidate sanitises to the same local part and domain code) until two of them share the 8 hex
digits; about 2^16 candidates are expected, a second or so. It shows why the Gateway needs the
extended name (`LoginNameMapper.extendedLoginName(for:)`), and its output is the test data of
Tests/SidecarCoreTests/LoginNameCollisionTests.swift.

Usage: bench/login-name-collision.py [local] [code] [tld] [limit]
       (defaults: john gm example 4194304)
The defaults need lower-case ASCII letters and digits only, so the addresses are already normalised.
Exit status 1 when no pair turns up within `limit` candidates.
"""
import hashlib
import sys
import time


def main():
    local = sys.argv[1] if len(sys.argv) > 1 else "john"
    code = sys.argv[2] if len(sys.argv) > 2 else "gm"
    tld = sys.argv[3] if len(sys.argv) > 3 else "example"
    limit = int(sys.argv[4]) if len(sys.argv) > 4 else 1 << 22
    if not (local + code + tld).isascii() or not (local + code + tld).isalnum() or (local + code + tld) != (local + code + tld).lower():
        sys.exit("local, code and tld must be lower-case ASCII letters and digits")
    if len(code) != 2:
        sys.exit("the domain code has two characters")

    started = time.monotonic()
    seen = {}  # first 4 bytes of md5 -> n
    for n in range(limit):
        address = f"{local}@{code}{n}.{tld}"
        prefix = hashlib.md5(address.encode()).digest()[:4]
        other = seen.setdefault(prefix, n)
        if other != n:
            first = f"{local}@{code}{other}.{tld}"
            elapsed = time.monotonic() - started
            print(f"{first}\n{address}")
            print(f"login name {local}_{code}_{prefix.hex()} for both; {n + 1} candidates, {elapsed:.2f} s", file=sys.stderr)
            return
    sys.exit(f"no pair within {limit} candidates")


if __name__ == "__main__":
    main()
