#!/usr/bin/env python3
"""coldstart.py — one cold request through the gpurun gateway, timed from the
client: prints "send_ns first_byte_ns first_token_ns done_ns" (wall clock,
nanoseconds; first_token_ns is the first NDJSON line carrying a non-empty
"response", 0 when the answer has none).

usage: coldstart.py PORT HOST PATH [JSON_BODY]"""
import http.client
import json
import sys
import time


def main():
    port, host, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    body = sys.argv[4].encode() if len(sys.argv) > 4 else None
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    send = time.time_ns()
    conn.request("POST" if body else "GET", path, body=body, headers={"Host": host})
    resp = conn.getresponse()
    first_byte = first_token = 0
    buf = b""
    while True:
        chunk = resp.read1(65536)
        if not chunk:
            break
        now = time.time_ns()
        if not first_byte:
            first_byte = now
        if first_token:
            continue
        buf += chunk
        if resp.status != 200:
            continue
        while b"\n" in buf and not first_token:
            line, buf = buf.split(b"\n", 1)
            try:
                if json.loads(line).get("response"):
                    first_token = now
            except ValueError:
                pass
    done = time.time_ns()
    if resp.status != 200:
        sys.exit("HTTP %d %s" % (resp.status, buf[:300].decode(errors="replace")))
    print(send, first_byte, first_token, done)


main()
