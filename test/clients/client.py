#!/usr/bin/python3
"""The real-client script for pymemcache (Debian python3-pymemcache), run with /usr/bin/python3.

    client.py HOST PORT PREFIX

With MEMSHIFT_TLS_CA set, it connects with TLS (pymemcache's `tls_context`), verifying the
server against that CA; MEMSHIFT_TLS_CERT and MEMSHIFT_TLS_KEY add a client certificate.

Runs the same sequence as client.pl, client.php and client.cjs with pymemcache's own API and
prints one `step=result` line per step (true/false, a value, `miss`, a number, `exists`,
`not_found`, or `match` for the long values), so a run straight against memcached and a run
through memshift can be compared line by line. Every key starts with PREFIX. See
test/integration/real-clients.test.ts.
"""
import os
import ssl
import sys
import time

from pymemcache.client.base import Client

host, port, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]

SPACE = "two words, a\ttab, CRLF\r\ninside, 'quotes' \"dq\", UTF-8 \u00e9 \u2713, end ".encode("utf-8")
BIG = (b"0123456789abcdefghijklmnopqrstuvwxyz" * 2900)[:102400]
SMALL = [f"k{i}:small" for i in range(10)]

# default_noreply=False: pymemcache sends set/add/replace/delete... with `noreply` unless told otherwise.
tls_context = None
if os.environ.get("MEMSHIFT_TLS_CA"):
    tls_context = ssl.create_default_context(cafile=os.environ["MEMSHIFT_TLS_CA"])
    if os.environ.get("MEMSHIFT_TLS_CERT"):
        tls_context.load_cert_chain(os.environ["MEMSHIFT_TLS_CERT"], os.environ["MEMSHIFT_TLS_KEY"])
client = Client((host, port), default_noreply=False, connect_timeout=5, timeout=5, tls_context=tls_context)


def k(name):
    return f"{prefix}{name}"


def out(step, result):
    print(f"{step}={result}", flush=True)


def tf(value):
    return "true" if value else "false"


def show(value):
    if value is None:
        return "miss"
    if value == SPACE:
        return "match"
    if value == BIG:
        return f"{len(value)}:match"
    try:
        text = value.decode("ascii")
        if text.isprintable():
            return text
    except UnicodeDecodeError:
        pass
    return f"differs:{len(value)}:{value[:64].hex()}"


def number(value):
    return "miss" if value is None else str(value)


out("set_a", tf(client.set(k("a"), b"alpha")))
out("set_b", tf(client.set(k("b"), b"beta")))
out("set_c", tf(client.set(k("c"), b"gamma")))
out("set_space", tf(client.set(k("space"), SPACE)))
out("set_big", tf(client.set(k("big"), BIG)))
out("set_k", tf(all([client.set(k(s), f"v{s[1:]}".encode()) for s in SMALL])))

out("get_a", show(client.get(k("a"))))
out("get_space", show(client.get(k("space"))))
out("get_big", show(client.get(k("big"))))
out("get_missing", show(client.get(k("missing"))))

names = ["a", "b", "c", "space", "big", "missing", *SMALL]
found = client.get_many([k(n) for n in names])
out("get_multi", ",".join(f"{key[len(prefix):]}:{show(v)}" for key, v in sorted(found.items())))

out("delete_a", tf(client.delete(k("a"))))
out("get_deleted", show(client.get(k("a"))))
out("delete_again", tf(client.delete(k("a"))))

out("set_counter", tf(client.set(k("counter"), b"10")))
out("incr", number(client.incr(k("counter"), 5)))
out("decr", number(client.decr(k("counter"), 3)))
out("decr_below_zero", number(client.decr(k("counter"), 100)))
out("incr_missing", number(client.incr(k("nocounter"), 1)))

out("set_cas", tf(client.set(k("cas"), b"v1")))
value, token = client.gets(k("cas"))
out("gets_cas", f"{show(value)}" + ("" if token else ":no-token"))


def cas_result(r):
    return "true" if r is True else "exists" if r is False else "not_found"


out("cas", cas_result(client.cas(k("cas"), b"v2", token)))
out("cas_stale", cas_result(client.cas(k("cas"), b"v3", token)))
out("get_cas", show(client.get(k("cas"))))
out("cas_missing", cas_result(client.cas(k("nocas"), b"v", token)))

out("set_touch", tf(client.set(k("touch"), b"t")))
out("touch", tf(client.touch(k("touch"), 100)))
out("get_touched", show(client.get(k("touch"))))
out("touch_missing", tf(client.touch(k("notouch"), 100)))
out("touch_expire", tf(client.touch(k("touch"), 1)))
time.sleep(2.5)
out("get_expired", show(client.get(k("touch"))))

out("add_existing", tf(client.add(k("b"), b"other")))
out("get_after_add", show(client.get(k("b"))))
out("add_new", tf(client.add(k("added"), b"new")))
out("replace_missing", tf(client.replace(k("noreplace"), b"x")))
out("replace", tf(client.replace(k("c"), b"gamma2")))
out("get_replaced", show(client.get(k("c"))))
out("append", tf(client.append(k("b"), b"-post")))
out("prepend", tf(client.prepend(k("b"), b"pre-")))
out("get_appended", show(client.get(k("b"))))

# pymemcache only: a noreply set, then a read on the same connection.
client.set(k("noreply"), b"quiet", noreply=True)
out("get_noreply", show(client.get(k("noreply"))))

client.close()
