#!/usr/bin/env python3
"""edge_client.py — a raw HTTP client for tests/integration/test_edge_*.sh: does what curl
will not (issue 16): shut down its write side after the request, close or reset the
connection at a moment the test chooses, read slowly through a small receive buffer.

  edge_client.py HOST PORT MODE PATH OUT [options]
    MODE half11 | half10   send "GET PATH HTTP/1.1|1.0", shutdown(SHUT_WR), read to EOF
         close | reset     send the request, wait for --when FILE, then close() (FIN) or
                           reset (SO_LINGER 0)
    OUT  the body goes to OUT; one summary line goes to stdout:
         "interim=<codes or -> status=<code> connection=<value or -> length=<body bytes>"
  options: --when FILE (close/reset: wait until FILE exists, at most 60 s),
           --rcvbuf N (receive buffer before connecting), --delay S (sleep before reading),
           --header 'Name: value' (repeatable)
"""
import argparse
import os
import socket
import struct
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("mode", choices=["half11", "half10", "close", "reset"])
    ap.add_argument("path")
    ap.add_argument("out")
    ap.add_argument("--when")
    ap.add_argument("--rcvbuf", type=int)
    ap.add_argument("--delay", type=float, default=0)
    ap.add_argument("--header", action="append", default=[])
    a = ap.parse_args()

    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if a.rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, a.rcvbuf)
    s.settimeout(90)
    s.connect((a.host, a.port))
    version = "1.0" if a.mode == "half10" else "1.1"
    req = "GET %s HTTP/%s\r\nHost: %s:%d\r\n" % (a.path, version, a.host, a.port)
    for h in a.header:
        req += h + "\r\n"
    s.sendall((req + "\r\n").encode())

    if a.mode in ("close", "reset"):
        for _ in range(6000):
            if a.when and os.path.exists(a.when):
                break
            time.sleep(0.01)
        if a.mode == "reset":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        print("closed")
        return 0

    s.shutdown(socket.SHUT_WR)
    if a.delay:
        time.sleep(a.delay)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()

    interim, status, connection, body = [], "-", "-", b""
    rest = data
    while rest:
        head, sep, after = rest.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.decode("latin-1").split("\r\n")
        code = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 1 else "?"
        if code.startswith("1"):
            interim.append(code)
            rest = after
            continue
        status = code
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        connection = headers.get("connection", "-")
        n = headers.get("content-length")
        body = after[: int(n)] if n is not None else after
        break
    with open(a.out, "wb") as f:
        f.write(body)
    print("interim=%s status=%s connection=%s length=%d"
          % (",".join(interim) or "-", status, connection, len(body)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
